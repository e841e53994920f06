#!/usr/bin/env bash
# Makes sure `nasm` is on PATH before the first build: mozjpeg-sys (the JPEG window decoder of the
# training views, datasets/src/decode/jpeg_region.rs) assembles libjpeg-turbo's SIMD code with it,
# and builds a plain-C decoder, about 1.7x slower, without it; so without root this only prints the
# command and goes on. A build made before nasm was installed keeps its plain-C decoder until
# `cargo clean -p mozjpeg-sys`.
set -euo pipefail
source "$(dirname "$0")/debian-package.sh"
ensure_command nasm optional "libjpeg-turbo's SIMD code; the build works without it, slower" nasm
