#!/usr/bin/env bash
# Unpacks Debian's libgloo-dev into .cache/gloo (headers only; nothing is installed or linked):
# libtorch's c10d headers for the Gloo process group include <gloo/...>, which the torch wheel
# does not ship, while the Gloo code itself is inside libtorch_cpu.so. Needs apt's package lists;
# as root it refreshes them first. Does nothing when the headers are already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/.cache/gloo
if [[ -f $dest/usr/include/gloo/rendezvous/store.h || -f /usr/include/gloo/rendezvous/store.h ]]; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ $(id -u) -eq 0 ]]; then
  apt-get update -qq >/dev/null
fi
if ! (cd "$work" && apt-get download -qq libgloo-dev >/dev/null 2>"$work/apt.log"); then
  cat "$work/apt.log" >&2
  echo "fetch-gloo-headers: could not download Debian's libgloo-dev (run as root, or 'apt-get update' first)" >&2
  exit 1
fi
mkdir -p "$dest"
dpkg-deb -x "$work"/libgloo-dev_*.deb "$dest"
echo "Gloo headers unpacked into $dest/usr/include"
