#!/usr/bin/env bash
# Test hosts on one machine: network namespaces joined by veth pairs to a bridge, so the real
# programs talk over real tcp between separate network stacks (root needed).
#   deploy/multihost/hosts.sh create    dp-hub 10.77.0.1, dp-infer-a .2, dp-infer-b .3,
#                                       dp-train .4; this machine is 10.77.0.254 on dp-br0
#   deploy/multihost/hosts.sh destroy   removes them all (also what create starts with)
#   deploy/multihost/hosts.sh cut HOST  takes HOST's link down (it vanishes from the network)
#   deploy/multihost/hosts.sh mend HOST brings it back
# Addresses are 10.77.0.0/24 and exist only inside these namespaces and the bridge.
set -euo pipefail

bridge=dp-br0
subnet_prefix=10.77.0
declare -A address=([hub]=1 [infer-a]=2 [infer-b]=3 [train]=4)
hosts=(hub infer-a infer-b train)

die() { echo "hosts.sh: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root (ip netns, veth, bridge)"
command -v ip >/dev/null || die "needs iproute2 (apt-get install iproute2)"

# veth names are at most 15 characters: dp-<host>-h (namespace side) / dp-<host>-b (bridge side).
ns() { echo "dp-$1"; }
veth_ns() { echo "dp${1//-/}h"; }
veth_br() { echo "dp${1//-/}b"; }

destroy() {
  for host in "${hosts[@]}"; do
    ip netns del "$(ns "$host")" 2>/dev/null || true
    ip link del "$(veth_br "$host")" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
}

create() {
  destroy
  ip link add "$bridge" type bridge
  ip addr add "$subnet_prefix.254/24" dev "$bridge"
  ip link set "$bridge" up
  for host in "${hosts[@]}"; do
    local name; name=$(ns "$host")
    ip netns add "$name"
    ip link add "$(veth_ns "$host")" type veth peer name "$(veth_br "$host")"
    ip link set "$(veth_ns "$host")" netns "$name"
    ip link set "$(veth_br "$host")" master "$bridge" up
    ip -n "$name" addr add "$subnet_prefix.${address[$host]}/24" dev "$(veth_ns "$host")"
    ip -n "$name" link set "$(veth_ns "$host")" up
    ip -n "$name" link set lo up
  done
  # Frames between bridge ports must not go through this machine's firewall rules.
  if [[ -w /proc/sys/net/bridge/bridge-nf-call-iptables ]]; then
    echo 0 >/proc/sys/net/bridge/bridge-nf-call-iptables
  fi
  echo "hosts.sh: ${hosts[*]} up on $subnet_prefix.0/24 (bridge $bridge)"
}

case ${1:-} in
  create) create ;;
  destroy) destroy ;;
  cut) ip -n "$(ns "${2:?host}")" link set "$(veth_ns "$2")" down ;;
  mend) ip -n "$(ns "${2:?host}")" link set "$(veth_ns "$2")" up ;;
  *) die "usage: hosts.sh create|destroy|cut HOST|mend HOST" ;;
esac
