#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/CMakeLists.txt) into build-fuzz/, replays every seed
# corpus and then fuzzes each target for a while. Exits non-zero if any input crashes, leaks,
# trips a sanitizer or hangs; prints one summary line per target.
#
#   bash tests/fuzz/run.sh               # replay, then fuzz each target for 60 s
#   bash tests/fuzz/run.sh --seconds 300 # longer
#   bash tests/fuzz/run.sh --seconds 0   # replay only (seconds)
#   bash tests/fuzz/run.sh --only image  # one target (repeatable)
#
# New inputs the fuzzer finds go to a scratch folder outside git (--scratch DIR, default
# $TMPDIR/digitpipe-fuzz), never into tests/fuzz/corpus/; a crashing input is saved there and
# its path printed. See tests/fuzz/README.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build-fuzz"
corpus_root="$root/tests/fuzz/corpus"
seconds=60
scratch="${TMPDIR:-/tmp}/digitpipe-fuzz"
only=()

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --scratch) scratch="${2:?--scratch needs a folder}"; shift 2 ;;
    --only) only+=("${2:?--only needs a target name}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "run.sh: --seconds expects a whole number of seconds, got '$seconds'" >&2
  exit 2
fi

# Each target and the corpus folder it replays (fuzz_preprocess reads the image seeds as raw
# sample bytes: any bytes are a valid input for it).
targets=(envelope image preprocess config)
declare -A corpus_of=([envelope]=envelope [image]=image [preprocess]=image [config]=config)
if [[ ${#only[@]} -gt 0 ]]; then
  for t in "${only[@]}"; do
    [[ -n "${corpus_of[$t]:-}" ]] || { echo "run.sh: no target '$t' (${targets[*]})" >&2; exit 2; }
  done
  targets=("${only[@]}")
fi

# ---- toolchain: clang++ and libFuzzer's runtime (Debian: clang, libclang-rt-14-dev).
# CXX_FUZZ overrides the compiler (e.g. clang++-14).
cxx="$(command -v "${CXX_FUZZ:-clang++}" || true)"
if [[ -z "$cxx" ]]; then
  echo "run.sh: ${CXX_FUZZ:-clang++} not found; libFuzzer needs clang (Debian: apt-get install clang" \
       "libclang-rt-14-dev, or bash deploy/install-deps.sh --tests)" >&2
  exit 1
fi
probe_dir="$(mktemp -d)"
trap 'rm -rf "$probe_dir"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
  > "$probe_dir/probe.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe_dir/probe.cpp" -o "$probe_dir/probe" \
     > "$probe_dir/probe.log" 2>&1; then
  echo "run.sh: $cxx cannot link a libFuzzer target (is libFuzzer's runtime installed? Debian:" \
       "apt-get install libclang-rt-14-dev):" >&2
  tail -5 "$probe_dir/probe.log" >&2
  exit 1
fi

# ---- build (incremental; the log is shown only on failure).
mkdir -p "$build"
log="$build/run-build.log"
if ! { [[ -f "$build/CMakeCache.txt" ]] ||
       CXX="$cxx" cmake -S "$root/tests/fuzz" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
         > "$log" 2>&1; } ||
   ! cmake --build "$build" -j"$(nproc)" >> "$log" 2>&1; then
  echo "run.sh: building the fuzz targets failed; the end of $log:" >&2
  tail -40 "$log" >&2
  exit 1
fi

# ---- replay, then fuzz.
mkdir -p "$scratch"
failed=0
# Options every run shares: the issue's limits, and no fork of the target per input.
common=(-rss_limit_mb=2048 -timeout=10)

# Prints the crashing input libFuzzer saved (its "Test unit written to PATH" line).
report_artifact() {
  local out="$1"
  grep -o 'Test unit written to .*' "$out" | sed 's/^Test unit written to /  crashing input: /' || true
  grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|fuzz check failed' \
    "$out" | sed 's/^/  /' || true
}

for t in "${targets[@]}"; do
  bin="$build/fuzz_$t"
  seeds="$corpus_root/${corpus_of[$t]}"
  work="$scratch/$t"
  artifacts="$scratch/artifacts/$t-"
  mkdir -p "$work" "$scratch/artifacts"
  out="$scratch/$t.log"

  seed_count=$(find "$seeds" -type f | wc -l)
  if ! "$bin" "${common[@]}" -runs=0 -artifact_prefix="$artifacts" "$seeds" > "$out" 2>&1; then
    echo "fuzz $t: FAILED replaying $seed_count seed inputs from ${seeds#"$root"/} (log $out)"
    report_artifact "$out"
    failed=1
    continue
  fi
  if [[ "$seconds" -eq 0 ]]; then
    echo "fuzz $t: ok, $seed_count seed inputs replayed"
    continue
  fi
  # New inputs land in $work (the first folder); the committed seeds are only read.
  if ! "$bin" "${common[@]}" -max_total_time="$seconds" -artifact_prefix="$artifacts" \
       -print_final_stats=1 "$work" "$seeds" > "$out" 2>&1; then
    echo "fuzz $t: FAILED after fuzzing (log $out)"
    report_artifact "$out"
    failed=1
    continue
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$out" | tail -1 | grep -o '[0-9]*' || echo '?')
  echo "fuzz $t: ok, $seed_count seed inputs replayed, $runs inputs in ${seconds} s, coverage $cov," \
       "no crash (corpus $work)"
done
exit "$failed"
