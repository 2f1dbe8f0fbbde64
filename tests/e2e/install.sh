#!/usr/bin/env bash
# Installs the e2e tests' one npm package (playwright-core, pinned in package-lock.json) when
# the lock file changed since the last install. It drives Debian's Chromium (/usr/bin/chromium,
# from deploy/install-deps.sh --tests); no browser is ever downloaded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "e2e: installing playwright-core (npm ci)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
