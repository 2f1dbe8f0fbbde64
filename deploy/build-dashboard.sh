#!/usr/bin/env bash
# Builds the browser dashboard (web/dashboard -> web/dashboard/dist, which the gateway serves).
# Idempotent: installs npm packages only when package-lock.json changed since the last install,
# and rebuilds only when a source file is newer than the last build (a second run: ~1 s).
# Usage: deploy/build-dashboard.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
app=$repo/web/dashboard
cd "$app"

# npm ci writes node_modules/.package-lock.json; an older one means the lock file changed.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "build-dashboard: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

stamp=dist/index.html
if [[ ! -f $stamp ]] || [[ -n $(find src index.html public package.json vite.config.ts tsconfig.json \
      -newer "$stamp" -print -quit 2>/dev/null) ]]; then
  echo "build-dashboard: building web/dashboard/dist"
  log=$(mktemp)
  if ! npm run --silent build >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "build-dashboard: the dashboard build failed (output above)" >&2
    exit 1
  fi
  rm -f "$log"
fi
echo "build-dashboard: web/dashboard/dist up to date"
