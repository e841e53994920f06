#!/usr/bin/env bash
# Unpacks the two CUDA header wheels that libtorch's NCCL process-group header needs beyond what
# torch's own CUDA wheels install (crt/host_config.h from nvidia-cuda-crt, <nv/target> from
# nvidia-cuda-cccl) into .cache/cuda-headers, matching the installed CUDA runtime's major.minor.
# Headers only: nothing is linked from them. Skipped when the .venv's torch has no CUDA.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${LGD_PYTHON:-$root/.venv/bin/python}
dest=$root/.cache/cuda-headers
torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
if [[ ! -f $torch_lib/libtorch_cuda.so ]]; then
  echo "fetch-cuda-headers: torch has no CUDA here; the NCCL backend is left out of the build"
  exit 0
fi
runtime=$("$python" -m pip show nvidia-cuda-runtime 2>/dev/null | sed -n 's/^Version: //p')
if [[ -z $runtime ]]; then
  echo "fetch-cuda-headers: nvidia-cuda-runtime is not installed beside torch; the NCCL backend is left out of the build" >&2
  exit 0
fi
series=$(cut -d. -f1,2 <<<"$runtime")
stamp=$dest/.series-$series
if [[ -f $stamp ]]; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetching CUDA $series header wheels (nvidia-cuda-crt, nvidia-cuda-cccl) for the NCCL backend"
"$python" -m pip download -q --no-deps -d "$work" "nvidia-cuda-crt==$series.*" "nvidia-cuda-cccl==$series.*"
rm -rf "$dest"
mkdir -p "$dest"
for wheel in "$work"/*.whl; do
  "$python" -m zipfile -e "$wheel" "$dest"
done
touch "$stamp"
