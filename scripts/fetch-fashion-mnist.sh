#!/usr/bin/env bash
# Fetches the real Fashion-MNIST IDX files (Zalando, MIT) into .cache/fashion-mnist/ without root:
# Debian/Ubuntu ship them as the package `dataset-fashion-mnist` (files under
# /usr/share/datasets/fashion-mnist/); `apt-get download` fetches the .deb into the current folder
# as an ordinary user and `dpkg-deb -x` unpacks it anywhere. Idempotent: when the four files are
# already there and are valid gzip, nothing is done. .cache is git-ignored; nothing is committed.
#
# Then, for example:
#   lgd prepare idx .cache/fashion-mnist/train-images-idx3-ubyte.gz \
#       .cache/fashion-mnist/train-labels-idx1-ubyte.gz data/fmnist-train --classnames fashion_mnist
set -euo pipefail
cd "$(dirname "$0")/.."

dest=.cache/fashion-mnist
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

die() { printf 'fetch-fashion-mnist: error: %s\n' "$*" >&2; exit 1; }

complete() {
  local f
  for f in "${files[@]}"; do
    [[ -s $dest/$f ]] && gzip -t "$dest/$f" 2>/dev/null || return 1
  done
}

if complete; then
  echo "fetch-fashion-mnist: $dest already holds the four IDX files; nothing to do"
  exit 0
fi

command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian/Ubuntu system (or put the four IDX files of the Fashion-MNIST project into $dest by hand)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "fetch-fashion-mnist: downloading the Debian package dataset-fashion-mnist (~31 MB)"
if ! (cd "$tmp" && apt-get download dataset-fashion-mnist >"$tmp/apt.log" 2>&1); then
  tail -n 5 "$tmp/apt.log" >&2
  die "apt-get download dataset-fashion-mnist failed. If the package is unknown, the package lists are missing or stale: run 'apt-get update' (as root) once; the package is in Debian >= 11 and Ubuntu >= 21.04 (universe)."
fi
deb=$(ls "$tmp"/dataset-fashion-mnist_*.deb 2>/dev/null | head -n 1)
[[ -n $deb ]] || die "apt-get reported success but left no .deb in $tmp"
dpkg-deb -x "$deb" "$tmp/root"
src=$tmp/root/usr/share/datasets/fashion-mnist
mkdir -p "$dest"
for f in "${files[@]}"; do
  [[ -f $src/$f ]] || die "the package holds no $f under /usr/share/datasets/fashion-mnist (found: $(ls "$src" 2>/dev/null | tr '\n' ' '))"
  gzip -t "$src/$f" || die "$f from the package is not valid gzip"
  mv "$src/$f" "$dest/$f.partial" && mv "$dest/$f.partial" "$dest/$f"
done
complete || die "the files in $dest are incomplete after unpacking"
echo "fetch-fashion-mnist: $dest ready: ${files[*]}"
