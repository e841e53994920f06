#!/usr/bin/env bash
# Makes sure `nasm` is on PATH before the first build: mozjpeg-sys (the JPEG window decoder of the
# training views, datasets/src/decode/jpeg_region.rs) assembles libjpeg-turbo's SIMD code with it,
# and builds a plain-C decoder, about 1.7x slower, without it. Does nothing when nasm is there; as
# root, installs Debian's package; otherwise prints the command and goes on (the build still works).
# A build made before nasm was installed keeps its plain-C decoder until `cargo clean -p mozjpeg-sys`.
set -euo pipefail

if command -v nasm >/dev/null 2>&1; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-nasm: nasm is not on PATH; the JPEG decoder will be built without SIMD. For the fast one, run as root:" >&2
  echo "  apt-get update && apt-get install -y nasm" >&2
  exit 0
fi
echo "install-nasm: installing Debian's nasm package (libjpeg-turbo's SIMD code)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends nasm >/dev/null
command -v nasm >/dev/null 2>&1 || { echo "install-nasm: apt-get finished but nasm is still not on PATH" >&2; exit 1; }
