#!/usr/bin/env bash
# Everything the run and test commands need, idempotently: Debian packages, data sets, build.
# A second run only checks and rebuilds what changed (seconds).
# Usage: deploy/setup.sh [BUILD_DIR]   (default <repo>/build)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$repo/build}

bash "$repo/deploy/install-deps.sh"
bash "$repo/deploy/fetch-data.sh" "$repo/data"

jobs=$(nproc)
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$jobs"
