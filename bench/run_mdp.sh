#!/usr/bin/env bash
# Requests/s through the broker to echo workers: lock-step and pipelined, 1 and 2 workers,
# ipc and tcp; pipelined also with prefetch 16 and 64 (the MDP credit extension; lock-step has
# one request in flight, so credit cannot matter there). Builds first (deploy/setup.sh), then
# prints a Markdown table for RESULTS.md.
# Usage: bench/run_mdp.sh [SECONDS_PER_CELL]   (default 5)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-5}
bash "$repo/deploy/setup.sh" >/dev/null
bench=$repo/build/bench/digitpipe_bench_mdp
[[ -x $bench ]] || bench=$repo/build/bin/digitpipe_bench_mdp
echo "| transport | mode | workers | prefetch | payload B | requests/s | us/request |"
echo "|---|---|---|---|---|---|---|"
for transport in ipc tcp; do
  for mode in lockstep pipelined; do
    prefetches="1"
    [[ $mode == pipelined ]] && prefetches="1 16 64"
    for prefetch in $prefetches; do
      for workers in 1 2; do
        DIGITPIPE_LOG_LEVEL=warn "$bench" --transport "$transport" --mode "$mode" \
          --workers "$workers" --prefetch "$prefetch" --seconds "$seconds"
      done
    done
  done
done
