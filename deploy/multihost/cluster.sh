#!/usr/bin/env bash
# Runs configs/multihost.yaml across the test hosts of hosts.sh: one `digitpipe up --only` per
# host, each with its own CURVE key, in the background (root needed).
#   deploy/multihost/cluster.sh up [STATE]     hosts, keys and token (made once), processes
#   deploy/multihost/cluster.sh down [STATE]   stops the processes, removes the hosts
# STATE (default deploy/multihost/state, ignored by git) holds keys/, token, runs/, logs/ and
# pids/. The dashboard is then on http://10.77.0.1:8080 from this machine; training there
# needs the token in STATE/token.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$repo/deploy/multihost
state=$(realpath -m "${2:-$here/state}")
# Tests point these at their build (DIGITPIPE_BIN_DIR, DIGITPIPE_PLUGIN_DIR).
bin=${DIGITPIPE_BIN_DIR:-$repo/build/bin}
plugins=${DIGITPIPE_PLUGIN_DIR:-$repo/build/plugins}
config=$repo/configs/multihost.yaml
declare -A parts=([hub]=broker,gateway [infer-a]=infer [infer-b]=infer
                  [train]=train,augment,evaluate)
hosts=(hub infer-a infer-b train)

die() { echo "cluster.sh: $*" >&2; exit 1; }

keys() {
  mkdir -p "$state/keys/allowed" "$state/runs" "$state/logs" "$state/pids"
  for host in "${hosts[@]}" admin; do
    [[ -f $state/keys/$host.key ]] || "$bin/digitpipe" keys "$host" --dir "$state/keys" >/dev/null
    cp "$state/keys/$host.pub" "$state/keys/allowed/$host.pub"
  done
  [[ -f $state/token ]] || "$bin/digitpipe" keys --token "$state/token" >/dev/null
}

# The --set flags that point a host's programs at STATE.
flags_for() {
  echo --set "security.key=$state/keys/$1.key" \
       --set "security.broker_public_key=$state/keys/hub.pub" \
       --set "security.allowed_clients=[$state/keys/allowed]" \
       --set "gateway.token_file=$state/token" \
       --set "paths.runs=$state/runs" \
       --set "paths.plugins=$plugins"
}

up() {
  [[ -x $bin/digitpipe ]] || die "build first (bash deploy/setup.sh)"
  bash "$here/hosts.sh" create
  keys
  for host in "${hosts[@]}"; do
    # shellcheck disable=SC2046 # flags_for's words are the flags
    ip netns exec "dp-$host" "$bin/digitpipe" up --config "$config" --only "${parts[$host]}" \
      $(flags_for "$host") >"$state/logs/$host.log" 2>&1 &
    echo $! >"$state/pids/$host"
  done
  echo "cluster.sh: started ${hosts[*]} (logs in $state/logs); dashboard http://10.77.0.1:8080"
  echo "cluster.sh: operator commands from this machine use the admin key, e.g."
  echo "  $bin/digitpipe status --config $config $(flags_for admin)"
}

down() {
  for host in "${hosts[@]}"; do
    local pid_file=$state/pids/$host
    [[ -f $pid_file ]] || continue
    kill -TERM "$(cat "$pid_file")" 2>/dev/null || true
  done
  for host in "${hosts[@]}"; do
    local pid_file=$state/pids/$host
    [[ -f $pid_file ]] || continue
    local pid; pid=$(cat "$pid_file")
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pid_file"
  done
  bash "$here/hosts.sh" destroy
  echo "cluster.sh: stopped"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) die "usage: cluster.sh up|down [STATE]" ;;
esac
