#!/usr/bin/env bash
# Installs every Debian package digitpipe needs to build and run; with --tests, also what the
# tests need beyond that (Chromium for the browser tests, clang and libFuzzer for the fuzz
# targets, yamllint for the cluster files, iproute2 for the multi-host test's network
# namespaces).
# Idempotent: asks dpkg first and calls apt-get only for what is missing, so a second run
# takes well under a second. Needs root (or sudo) only when something is missing.
set -euo pipefail

# Build toolchain and libraries (names from ../shared/FACTS.md; cppzmq-dev and
# ocl-icd-opencl-dev are only "Recommends" of their neighbours, so they are named here).
packages=(
  g++ cmake make pkg-config git ca-certificates
  libzmq3-dev cppzmq-dev
  libdnnl-dev ocl-icd-opencl-dev
  libyaml-cpp-dev libpistache-dev nlohmann-json3-dev
  libboost-dev libboost-filesystem-dev libboost-program-options-dev
  libpng-dev libjpeg-dev zlib1g-dev libssl-dev
  libgtest-dev libgmock-dev
  dataset-fashion-mnist
  nodejs npm
)
if [[ ${1:-} == --tests ]]; then
  packages+=(chromium clang libclang-rt-14-dev yamllint iproute2)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# A node/npm not from Debian (e.g. a preinstalled toolchain) is good enough: skip the packages.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
