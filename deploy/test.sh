#!/usr/bin/env bash
# The README's test command: sets everything up (deploy/setup.sh), then runs every test.
# Integration tests start real processes on 127.0.0.1 and run one at a time (RUN_SERIAL).
# Extra arguments go to ctest (e.g. -L unit, -R Broker).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The browser tests' Chromium (Debian's) and the e2e driver (playwright-core, from npm).
bash "$repo/deploy/install-deps.sh" --tests
bash "$repo/deploy/setup.sh"
bash "$repo/tests/e2e/install.sh"
cd "$repo/build"
ctest --output-on-failure --timeout 600 -j"$(nproc)" "$@"
