#!/usr/bin/env bash
# The README's run command: sets everything up (deploy/setup.sh), then starts the deployment
# in the foreground with `digitpipe up`. Ctrl-C stops every process it started.
# Usage: deploy/run.sh [CONFIG] [digitpipe up flags...]   (default configs/local.yaml)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config=${1:-$repo/configs/local.yaml}
shift || true
bash "$repo/deploy/setup.sh"
exec "$repo/build/bin/digitpipe" up --config "$config" "$@"
