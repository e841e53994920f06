#!/usr/bin/env bash
# Packs what scripts/gpu-figures.sh needs on a GPU machine that has torch 2.11 in its python3 but
# no Rust toolchain, no network and not this project's .venv, into .gpu/ (ignored by git, ~25 MB):
#   lgd                      target/release/lgd without its debug sections (150 → 16 MB)
#   bpe_simple_vocab_16e6.txt.gz   CLIP's vocabulary (the recipe's text bank), read via LGD_CLIP_VOCAB
#   wheels/                  open_clip_torch, ftfy, wcwidth (pure Python; the PyTorch twin and the
#                            random RN50 teacher need open_clip; torchvision and timm are expected there)
#   commit                   the commit the binary was built from
# Then, from the device tool: run(command="bash scripts/gpu-figures.sh", carry=[".gpu"], timeout_s=570);
# the figures come back under $OUT (one file per phase), then give the machine back.
#
# Usage: scripts/gpu-bundle.sh     (runs `make build`; fetches the wheels from PyPI)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${LGD_PYTHON:-$root/.venv/bin/python}
bundle=$root/.gpu
lgd=$root/target/release/lgd
vocab=$root/.cache/clip/bpe_simple_vocab_16e6.txt.gz
make -C "$root" build >/dev/null   # the binary of this checkout (a no-op when up to date)
[ -f "$vocab" ] || { echo "error: $vocab is missing: run 'make setup' first" >&2; exit 1; }
if ! git -C "$root" diff --quiet HEAD -- src actors datasets build.rs Cargo.toml Cargo.lock; then
    echo "warning: the source differs from HEAD: the bundle's binary is not exactly $(git -C "$root" rev-parse --short HEAD)" >&2
fi

rm -rf "$bundle"
mkdir -p "$bundle/wheels"
strip -o "$bundle/lgd" "$lgd"
cp "$vocab" "$bundle/"
git -C "$root" rev-parse HEAD >"$bundle/commit"
# The versions this project's oracles pin, as wheels for the GPU machine's Python 3.12.
for package in open_clip_torch ftfy wcwidth; do
    version=$("$py" -m pip show "$package" | sed -n 's/^Version: //p')
    [ -n "$version" ] || { echo "error: $package is not installed in $py (make setup)" >&2; exit 1; }
    "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d "$bundle/wheels" "$package==$version"
done
du -sh "$bundle"
ls "$bundle" "$bundle/wheels"
