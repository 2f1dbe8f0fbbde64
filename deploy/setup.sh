#!/usr/bin/env bash
# Everything the run and test commands need, idempotently: Debian packages, data sets, the C++
# build and the dashboard build.
# A second run only checks and rebuilds what changed (seconds).
# Usage: deploy/setup.sh [BUILD_DIR]   (default <repo>/build)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$repo/build}

bash "$repo/deploy/install-deps.sh"
bash "$repo/deploy/fetch-data.sh" "$repo/data"

# The build's own output goes to a log (shown when it fails), so the terminal shows what matters.
jobs=$(nproc)
log=$build/setup-build.log
mkdir -p "$build"
echo "setup: building in $build (log: $log)"
if ! { [[ -f $build/CMakeCache.txt ]] || cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo; } >"$log" 2>&1 ||
   ! cmake --build "$build" -j"$jobs" >>"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "setup: build failed; the whole log is in $log" >&2
  exit 1
fi
echo "setup: build up to date"
bash "$repo/deploy/build-dashboard.sh"
