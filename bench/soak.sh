#!/usr/bin/env bash
# Soak benchmark (issue 5): a deployment like configs/local.yaml (broker, 2 infer workers, the
# gateway; ipc:// endpoints in a temp folder and a free loopback port) under a mixed load for
# N minutes, with one infer worker SIGKILLed every minute (`digitpipe up` restarts it).
#
# Load: wrk -t2 -c8 --timeout 15s with bench/soak/mixed.lua: of every 10 requests, 8 POST
# /api/predict with a real MNIST digit as a 280x280 PNG, 1 GET /api/sample_predictions?n=4, 1
# GET /api/model_info; no pause between requests. Kills: at 30 s into every minute, SIGKILL
# to the infer worker the supervisor calls worker.infer.1 (whatever pid it has now), so
# worker.infer.2 lives through the whole soak and its memory growth means something.
#
# Reports (Markdown on stdout, to paste; nothing is written anywhere else): requests served,
# errors (non-2xx replies plus socket errors: connect, read, write, timeout), p50/p99 latency
# (wrk's), kills and restarts, and the resident memory (VmRSS) of the gateway, the broker and
# each infer worker after a 10 s warm-up and at the end, with growth in percent (the issue's
# target: under 5% for processes that lived through the soak).
#
# Usage: bench/soak.sh [--minutes N] [--no-kills]     (default 10, with kills)
# Needs: a build (cmake --build build --target digitpipe digitpipe-broker digitpipe-worker
#        digitpipe-gateway digitpipe_stage_infer), data/mnist (deploy/fetch-data.sh); installs
#        Debian's wrk with apt on first use.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

minutes=10
kills=1  # --no-kills: the same load without killing anything (tells growth per death apart)
usage() {
  echo "usage: bench/soak.sh [--minutes N] [--no-kills]   (N >= 1, default 10)" >&2
  exit 2
}
while (($#)); do
  case $1 in
    --minutes)
      [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || usage
      minutes=$2
      shift 2
      ;;
    --no-kills)
      kills=0
      shift
      ;;
    -h | --help) usage ;;
    *) usage ;;
  esac
done

if ! command -v wrk >/dev/null 2>&1; then
  echo "soak: installing wrk" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
for program in digitpipe digitpipe-broker digitpipe-worker digitpipe-gateway; do
  if [[ ! -x build/bin/$program ]]; then
    echo "soak: build/bin/$program not found; build first: cmake --build build -j2 --target" \
      "digitpipe digitpipe-broker digitpipe-worker digitpipe-gateway digitpipe_stage_infer" >&2
    exit 1
  fi
done
images=data/mnist/t10k-images-idx3-ubyte
if [[ ! -f $images ]]; then
  echo "soak: $images not found; run deploy/fetch-data.sh" >&2
  exit 1
fi

python=/usr/bin/python3
[[ -x $python ]] || python=python3
work=$(mktemp -d /tmp/digitpipe-soak.XXXXXX)
up_pid=""
killer_pid=""
cleanup() {
  [[ -n $killer_pid ]] && kill "$killer_pid" 2>/dev/null || true
  if [[ -n $up_pid ]]; then
    kill -INT "$up_pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; ++i)); do
      kill -0 "$up_pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A real digit: MNIST test image 0 drawn 10x larger (280x280, as the dashboard's canvas), as a
# grayscale PNG written with the standard library only.
"$python" - "$images" "$work/digit.png" <<'PY'
import struct, sys, zlib
raw = open(sys.argv[1], "rb").read()
pixels = raw[16:16 + 784]
rows = b"".join(b"\x00" + bytes(pixels[(y // 10) * 28 + x // 10] for x in range(280))
                for y in range(280))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 280, 280, 8, 0, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
open(sys.argv[2], "wb").write(png)
PY
label=$("$python" -c 'import sys; print(open(sys.argv[1], "rb").read()[8])' \
  data/mnist/t10k-labels-idx1-ubyte)

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
config=$work/soak.yaml
cat >"$config" <<YAML
broker:
  endpoint: ipc://$work/broker.sock
  events_in: ipc://$work/events-in.sock
  events_out: ipc://$work/events-out.sock
  heartbeat_ms: 1000
  liveness: 3
stages:
  infer:
    plugin: infer
    replicas: 2
    prefetch: 16
    batch: {max_size: 16, max_wait_ms: 0}
    env: {OMP_NUM_THREADS: "1"}
    params: {warm_batch_max: 16}
paths:
  plugins: $repo/build/plugins
  data: $repo/data
  models: $repo/models
gateway:
  listen: 127.0.0.1:$port
  dashboard: $work/no-dashboard
  request_timeout_ms: 10000
YAML
log=$work/up.log
env -u OMP_NUM_THREADS build/bin/digitpipe up --config "$config" >"$log" 2>&1 &
up_pid=$!
base=http://127.0.0.1:$port

# The pid the supervisor last started for child $1 (from its "started" log lines).
child_pid() {
  grep 'component=supervisor' "$log" | grep 'msg=started' | grep "child=$1 " |
    tail -n 1 | sed -n 's/.*pid=\([0-9]*\).*/\1/p'
}
rss_kb() {
  sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || echo 0
}
infer_workers() {
  curl -s --max-time 5 "$base/api/workers" | "$python" -c '
import json, sys
try:
    services = json.load(sys.stdin)["services"]
except Exception:
    print(0); sys.exit()
print(sum(s["workers"] for s in services if s["name"] == "digitpipe.infer"))' 2>/dev/null || echo 0
}

deadline=$((SECONDS + 120))
until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/readyz" || true) == 200 &&
  $(infer_workers) == 2 ]]; do
  if ((SECONDS > deadline)) || ! kill -0 "$up_pid" 2>/dev/null; then
    echo "soak: the deployment did not become ready (log below)" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  sleep 0.5
done
reply=$(curl -s --max-time 10 -H 'Content-Type: image/png' --data-binary "@$work/digit.png" \
  "$base/api/predict")
digit=$("$python" -c 'import json, sys; print(json.loads(sys.argv[1])["digit"])' "$reply")
if [[ $digit != "$label" ]]; then
  echo "soak: the test digit (label $label) was read as $digit: $reply" >&2
  exit 1
fi

export WRK_BODY_FILE=$work/digit.png
wrk -t2 -c8 -d10s --timeout 15s -s bench/soak/mixed.lua "$base" >/dev/null 2>&1 || true

names=(gateway broker worker.infer.1 worker.infer.2)
declare -A pid_start rss_start
for name in "${names[@]}"; do
  pid_start[$name]=$(child_pid "$name")
  rss_start[$name]=$(rss_kb "${pid_start[$name]}")
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

echo "soak: $minutes minute(s) of mixed load on $base$( ((kills)) && echo ", one infer worker SIGKILLed every minute")" >&2
wrk -t2 -c8 -d"${minutes}m" --timeout 15s --latency -s bench/soak/mixed.lua "$base" \
  >"$work/wrk.txt" 2>&1 &
wrk_pid=$!
(
  for ((m = 0; m < minutes; ++m)); do
    sleep $((m == 0 ? 30 : 60))
    ((kills)) || continue
    victim=$(child_pid worker.infer.1)
    if [[ -n $victim ]] && kill -KILL "$victim" 2>/dev/null; then
      echo "$(date -u +%H:%M:%S) $victim" >>"$work/kills.txt"
      echo "soak: SIGKILL worker.infer.1 (pid $victim)" >&2
    fi
  done
) &
killer_pid=$!
wait "$wrk_pid" || true
kill "$killer_pid" 2>/dev/null || true
wait "$killer_pid" 2>/dev/null || true
killer_pid=""

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A pid_end rss_end
for name in "${names[@]}"; do
  pid_end[$name]=$(child_pid "$name")
  rss_end[$name]=$(rss_kb "${pid_end[$name]}")
done
kills=$( [[ -f $work/kills.txt ]] && wc -l <"$work/kills.txt" || echo 0)
restarts=$(grep 'component=supervisor' "$log" | grep 'msg=started' | grep -c 'child=worker.infer' || true)
restarts=$((restarts - 2))
workers_now=$(infer_workers)

# wrk's figures: requests, p50 and p99 (ms), non-2xx, socket errors; and the mix line.
read -r requests p50 p99 non2xx socket <<<"$(awk '
  function ms(v) {
    if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
    if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
    if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000 }
    if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
    return v + 0
  }
  $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
  $2 == "requests" && $3 == "in" { requests = $1 }
  /Non-2xx or 3xx responses:/ { non2xx = $NF }
  /Socket errors:/ { gsub(/,/, ""); socket = $4 + $6 + $8 + $10 }
  END { printf "%d %.2f %.2f %d %d\n", requests, p50, p99, non2xx, socket }' "$work/wrk.txt")"
mix=$(sed -n 's/^soak-mix: //p' "$work/wrk.txt")
if [[ -z $requests || $requests == 0 ]]; then
  echo "soak: wrk reported nothing:" >&2
  cat "$work/wrk.txt" >&2
  exit 1
fi

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo "Soak: $(date -u '+%Y-%m-%d %H:%M UTC'), $(getconf _NPROCESSORS_ONLN) CPUs ($cpu);" \
  "$minutes min of wrk -t2 -c8 --timeout 15s, mix ($mix); worker.infer.1 SIGKILLed $kills" \
  "time(s), infer restarts $restarts, infer workers at the end $workers_now; load average" \
  "$load_before before, $load_after after. Command: bench/soak.sh --minutes $minutes"
echo
echo "| minutes | requests | requests/s | errors (non-2xx + socket) | p50 ms | p99 ms | kills |"
echo "|---|---|---|---|---|---|---|"
awk -v m="$minutes" -v r="$requests" -v n="$non2xx" -v s="$socket" -v p50="$p50" -v p99="$p99" \
  -v k="$kills" 'BEGIN { printf "| %d | %d | %.0f | %d (%d + %d) | %.2f | %.2f | %d |\n",
                         m, r, r / (m * 60), n + s, n, s, p50, p99, k }'
echo
echo "| process | pid start -> end | VmRSS start (MiB) | VmRSS end (MiB) | growth |"
echo "|---|---|---|---|---|"
for name in "${names[@]}"; do
  awk -v name="$name" -v a="${pid_start[$name]}" -v b="${pid_end[$name]}" \
    -v s="${rss_start[$name]}" -v e="${rss_end[$name]}" 'BEGIN {
      growth = s > 0 ? sprintf("%+.1f%%", (e - s) * 100 / s) : "?"
      if (a != b) growth = growth " (restarted: not comparable)"
      printf "| %s | %s -> %s | %.1f | %.1f | %s |\n", name, a, b, s / 1024, e / 1024, growth
    }'
done
