#!/usr/bin/env bash
# Side-by-side training benchmark: the digitpipe engine (build/bin/nn_throughput) against
# PyTorch 1.13 (bench/pytorch_train.py) on seed A's enhanced CNN, same machine, batch 128,
# 2 threads, fp32 and bf16. Each cell runs REPEATS times and reports the median; prints a
# Markdown table for RESULTS.md with the machine and its load, since the VMs are shared.
# With --time-to-accuracy, also times training to 99% MNIST test accuracy.
# Usage: bench/run_training.sh [--time-to-accuracy]     (env: REPEATS, default 3)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

repeats=${REPEATS:-3}
threads=2
batch=128
time_to_accuracy=false
case ${1:-} in
  "") ;;
  --time-to-accuracy) time_to_accuracy=true ;;
  *) echo "usage: bench/run_training.sh [--time-to-accuracy]   (env: REPEATS)" >&2; exit 2 ;;
esac

ours=build/bin/nn_throughput
if [[ ! -x $ours ]]; then
  echo "run_training: $ours not found; build first with: bash deploy/setup.sh" >&2
  exit 1
fi

# Debian's interpreter, not whatever python3 is first on PATH (pyenv, venvs): only it sees
# python3-torch.
python=/usr/bin/python3
[[ -x $python ]] || python=python3
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "run_training: installing python3-torch" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
fi

# Both engines use OpenMP; pin both to the same thread count (PyTorch also gets --threads,
# because Debian's build starts with one thread whatever OMP_NUM_THREADS says).
export OMP_NUM_THREADS=$threads

# Exact median of the numbers on stdin, one a line.
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit 1
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# images/s of one run of ours: the whole-run mean (images over wall time), the same measure
# pytorch_train.py reports, rather than nn_throughput's median-step figure.
ours_once() {
  "$ours" --batch "$batch" --precision "$1" |
    sed -nE 's/.* ([0-9.]+) images\/s mean.*/\1/p'
}

pytorch_once() {
  "$python" bench/pytorch_train.py --mode throughput --precision "$1" --batch "$batch" \
    --threads "$threads" | sed -nE 's/.*images_per_s=([0-9.]+).*/\1/p'
}

measure() {  # engine precision -> median images/s over REPEATS runs
  local i value values=""
  for ((i = 0; i < repeats; ++i)); do
    value=$("$1_once" "$2")
    if [[ -z $value ]]; then
      echo "run_training: $1 $2 printed no images/s" >&2
      exit 1
    fi
    values+=$value$'\n'
  done
  printf '%s' "$values" | median
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A rate
for precision in fp32 bf16; do
  rate[ours_$precision]=$(measure ours "$precision")
  rate[pytorch_$precision]=$(measure pytorch "$precision")
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
# FACTS.md: a peer comparison must say which BLAS PyTorch ran on (Debian's: the generic one).
torch_version=$("$python" -c 'import re, torch
blas = re.search("BLAS_INFO=([^,]*)", torch.__config__.show())
print(torch.__version__, "BLAS", blas.group(1) if blas else "unknown")')
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($cpu), OMP_NUM_THREADS=$threads," \
  "batch $batch, median of $repeats runs, PyTorch $torch_version;" \
  "load average $load_before before, $load_after after"
echo
echo "| engine | precision | images/s (median) | ours/PyTorch |"
echo "|---|---|---|---|"
for precision in fp32 bf16; do
  ratio=$(awk -v a="${rate[ours_$precision]}" -v b="${rate[pytorch_$precision]}" \
    'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
  printf '| digitpipe | %s | %.0f | %s |\n' "$precision" "${rate[ours_$precision]}" "$ratio"
  printf '| PyTorch | %s | %.0f | 1.00 |\n' "$precision" "${rate[pytorch_$precision]}"
done

if $time_to_accuracy; then
  echo
  # ours: digitpipe train, through the whole pipeline (in-process broker, augment worker),
  # evaluating on the test set after every epoch; the first epoch at or above the target.
  # Training seconds exclude evaluation (as PyTorch's figure does); wall seconds include it.
  ours_time_to() {  # target experiment
    local out run_dir
    out=$(build/bin/digitpipe train "configs/experiments/$2.yaml" \
            --set "stopping.target_accuracy=$1" 2>/dev/null)
    run_dir=$(sed -nE 's/^run [^ ]+ -> (.*) \(.*/\1/p' <<<"$out")
    "$python" - "$run_dir/metrics.jsonl" "$1" "$2" <<'PY'
import json, sys
train = 0.0
for line in open(sys.argv[1]):
    r = json.loads(line)
    train += r["train_seconds"]
    if r["test_accuracy"] >= float(sys.argv[2]):
        print(f"digitpipe time_to_accuracy experiment={sys.argv[3]} target={sys.argv[2]} "
              f"reached={r['test_accuracy']:.4f} train_seconds={train:.1f} "
              f"wall_seconds={r['elapsed_seconds']:.1f} epochs={r['epoch'] + 1}")
        break
else:
    print(f"digitpipe time_to_accuracy experiment={sys.argv[3]} target={sys.argv[2]} reached=no")
PY
  }
  ours_time_to 0.99 quick
  ours_time_to 0.995 sprint
  "$python" bench/pytorch_train.py --mode time-to-accuracy --target 0.99 --threads "$threads" \
    --batch "$batch" --data data/mnist
fi
