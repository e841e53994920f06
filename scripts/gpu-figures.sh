#!/usr/bin/env bash
# Every GPU figure of BENCHMARKS.md in one call on a GPU machine, from the bundle that
# scripts/gpu-bundle.sh packs into .gpu/ (no Rust toolchain or .venv needed there):
#   1. step        scripts/bench-step.sh: the PyTorch twin (original, best) and `lgd bench step`
#   2. end-to-end  scripts/bench-end-to-end.sh --no-twin: `lgd train` with the data path against
#                  the step-bound rate and against the original end to end (its DataLoader feeding
#                  its step, scripts/bench_end_to_end_torch.py), the bounding stage, GPU peak memory
#   3. stream      scripts/bench-teacher-stream.sh on phase 2's inputs: the device stage on a CUDA
#                  stream of its own against phase 2's shared stream, img/s and losses side by side
#   4. cache       scripts/bench-teacher-cache.sh on phase 2's config and images: replay epochs of
#                  the teacher-output cache against the same run without it
#   5. data        scripts/bench-data.sh --threads "1 N" --device cuda: decode per core, the device
#                  photometric stage
# Each phase has its own time limit and writes OUT/<phase>.txt; a phase that fails or runs out of
# time does not stop the next. OUT/machine.txt holds the card, the cores and the commit; with
# nvidia-smi, OUT/<phase>-gpu.csv samples the GPU's utilisation during each phase.
#
# Usage: bash scripts/gpu-figures.sh [--dry-run] [--phases "step end-to-end stream cache data"]
#   --dry-run   the same plumbing on the CPU at toy sizes (checks the bundle where there is no GPU)
#   --phases    only these (a rerun of what failed; stream and cache need end-to-end's files from
#               this machine)
# Environment: OUT (default /tmp/lgd-gpu-figures), GPU_PYTHON (default python3).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bundle=$root/.gpu
out=${OUT:-/tmp/lgd-gpu-figures}
python=$(command -v "${GPU_PYTHON:-python3}") || { echo "error: no ${GPU_PYTHON:-python3}" >&2; exit 1; }
dry=0 phases="step end-to-end stream cache data"
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry=1; shift ;;
        --phases) phases=$2; shift 2 ;;
        *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ -x "$bundle/lgd" ] || { echo "error: $bundle/lgd missing: run scripts/gpu-bundle.sh here and carry .gpu" >&2; exit 1; }
mkdir -p "$out"

site=${TMPDIR:-/tmp}/lgd-gpu-site
"$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$bundle"/wheels/*.whl \
    || { echo "error: installing the bundle's wheels failed" >&2; exit 1; }
export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))') \
    || { echo "error: $python has no torch" >&2; exit 1; }
export LD_LIBRARY_PATH=$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LGD=$bundle/lgd LGD_PYTHON=$python LGD_CLIP_VOCAB=$bundle/bpe_simple_vocab_16e6.txt.gz PYTHONUNBUFFERED=1

{
    nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
    echo "cores $(nproc)"
    echo "commit $(cat "$bundle/commit")"
    "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
    "$LGD" --version
} >"$out/machine.txt" 2>&1
cat "$out/machine.txt"

# phase NAME SECONDS COMMAND...: runs it with a limit, output to OUT/NAME.txt, its tail shown.
phase() {
    local name=$1 limit=$2
    shift 2
    [[ " $phases " == *" $name "* ]] || return 0
    echo "== $name (limit ${limit}s): $*"
    local started=$SECONDS sampler=
    # GPU utilisation and memory every half second while the phase runs (OUT/NAME-gpu.csv).
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader -lms 500 >"$out/$name-gpu.csv" 2>&1 &
        sampler=$!
    fi
    timeout "$limit" "$@" >"$out/$name.txt" 2>&1
    local rc=$?
    if [ -n "$sampler" ]; then
        kill "$sampler" 2>/dev/null
        wait "$sampler" 2>/dev/null
        awk -F', ' '{ sub(/ %/, "", $2); if ($2 + 0 > 0 || n) { n++; sum += $2 } } END { if (n) printf "GPU utilisation: mean %.0f %% over %d samples from the first busy one\n", sum / n, n }' \
            "$out/$name-gpu.csv" | tee -a "$out/$name.txt"
    fi
    echo "rc $rc after $((SECONDS - started))s" | tee -a "$out/$name.txt"
    tail -25 "$out/$name.txt"
}

if [ "$dry" = 1 ]; then
    phase step 300 bash "$root/scripts/bench-step.sh" --device cpu --batch 2 --steps 1 --warmup 1
    phase end-to-end 600 bash "$root/scripts/bench-end-to-end.sh" --device cpu --no-twin --original-rounds 1 --images 32 --epochs 2 --batch 8 --out "$out/e2e"
    phase stream 600 bash "$root/scripts/bench-teacher-stream.sh" --base "$out/e2e" --device cpu --epochs 2 --batch 8
    phase cache 600 bash "$root/scripts/bench-teacher-cache.sh" --config "$out/e2e/run.toml" --train "$out/e2e/images" --epochs 2 --views 1 --device cpu --out "$out/cache"
    phase data 300 bash "$root/scripts/bench-data.sh" --threads "1 2" --count 40 --per-thread 40 --dir "$out/images"
else
    # 570 s at most in all (run it with timeout_s 590), likely half of it; most important first.
    phase step 110 bash "$root/scripts/bench-step.sh" --device cuda --batch 256 --steps 50
    phase end-to-end 200 bash "$root/scripts/bench-end-to-end.sh" --device cuda --no-twin --images 7680 --epochs 3 --out /tmp/lgd-e2e
    phase stream 100 bash "$root/scripts/bench-teacher-stream.sh" --base /tmp/lgd-e2e --device cuda --epochs 3
    phase cache 100 bash "$root/scripts/bench-teacher-cache.sh" --config /tmp/lgd-e2e/run.toml --train /tmp/lgd-e2e/images --epochs 4 --views 2 --device cuda --out /tmp/lgd-cache
    phase data 60 bash "$root/scripts/bench-data.sh" --threads "1 $(nproc)" --device cuda --per-thread 400 --dir /tmp/lgd-bench-images
fi
