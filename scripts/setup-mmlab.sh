#!/usr/bin/env bash
# Adds mmdetection 3.3.0 and mmsegmentation 1.2.2 (with mmengine and mmcv-lite 2.2.0) to .venv for
# the export tests. Every package is pinned in scripts/requirements-mmlab.txt and installed with
# --no-deps: their own requirements would pull opencv-python (needs libGL) and nothing here may
# replace the torch that tch links. Idempotent: a matching stamp means nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
requirements=scripts/requirements-mmlab.txt
stamp=$venv/.lgd-mmlab.sha256

die() { printf 'make setup: error: %s\n' "$*" >&2; exit 1; }
[[ -x $venv/bin/python ]] || die "$venv is missing: scripts/setup-venv.sh creates it first."

wanted_hash=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$wanted_hash" ]]; then
  echo "make setup: mmdetection/mmsegmentation are up to date; nothing to do"
  exit 0
fi
echo "make setup: installing mmdetection 3.3.0 and mmsegmentation 1.2.2 for the export tests (log: $venv/pip-mmlab.log)"
if ! "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off --no-deps \
  -r "$requirements" >"$venv/pip-mmlab.log" 2>&1; then
  tail -n 5 "$venv/pip-mmlab.log" >&2
  die "pip could not install $requirements (full log: $venv/pip-mmlab.log)."
fi
echo "$wanted_hash" >"$stamp"
