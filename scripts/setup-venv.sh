#!/usr/bin/env bash
# Creates the project's Python environment (.venv) with the pinned packages of
# scripts/requirements.txt: libtorch for the Rust build (PyPI torch==2.11.0, the version tch 0.24.0
# needs) and the oracles the tests compare against. Idempotent: when .venv already matches the
# requirements it says so and does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
requirements=scripts/requirements.txt
stamp=$venv/.lgd-requirements.sha256
torch_wanted=2.11.0
python=${PYTHON:-python3}

die() { printf 'make setup: error: %s\n' "$*" >&2; exit 1; }
torch_in_venv() { "$venv/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true; }

wanted_hash=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$wanted_hash" && $(torch_in_venv) == "$torch_wanted" ]]; then
  echo "make setup: .venv is up to date (torch $torch_wanted and the pinned oracles); nothing to do"
  exit 0
fi

if [[ ! -x $venv/bin/python ]]; then
  command -v "$python" >/dev/null 2>&1 ||
    die "'$python' not found. Install Python 3.10-3.14 (Debian/Ubuntu: apt-get install python3 python3-venv) or run 'make setup PYTHON=/path/to/python3'."
  "$python" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] < (3, 15))' ||
    die "$("$python" --version 2>&1) is not supported: torch $torch_wanted wheels need Python 3.10-3.14."
  echo "make setup: creating $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv" ||
    die "'$python -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)."
fi

found=$(torch_in_venv)
if [[ -n $found && $found != "$torch_wanted" ]]; then
  echo "make setup: $venv has torch $found, but tch 0.24.0 links exactly torch $torch_wanted: replacing it"
fi

echo "make setup: installing the pinned packages (torch $torch_wanted with its CUDA libraries is ~4.7 GB; log: $venv/pip.log)"
if ! "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
  -r "$requirements" >"$venv/pip.log" 2>&1; then
  tail -n 5 "$venv/pip.log" >&2
  die "pip could not install $requirements from PyPI (full log: $venv/pip.log). Is PyPI reachable from here? Behind a proxy, set HTTPS_PROXY; offline, set PIP_INDEX_URL or PIP_FIND_LINKS to a mirror or a folder of wheels."
fi

found=$(torch_in_venv)
[[ $found == "$torch_wanted" ]] ||
  die "after installing, $venv imports torch '${found:-nothing}' instead of $torch_wanted (see $venv/pip.log)."
echo "$wanted_hash" >"$stamp"
echo "make setup: .venv ready (torch $found)"
