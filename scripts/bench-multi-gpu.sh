#!/usr/bin/env bash
# Data-parallel scaling on one machine: `lgd launch --nproc-per-node N -- train` for N = 1, 2, 4,
# ... up to the GPUs present (NCCL), the published recipe's shapes (CLIP RN50-shaped teacher with
# random weights, ResNet-18 student, MoCo-v2 views at 224 px, bf16, channels_last) on synthetic
# ImageNet-like JPEGs, a fixed batch per GPU (global batch = N x per-GPU batch). Prints delivered
# img/s, img/s per GPU and the scaling efficiency rate(N) / (N x rate(1)) (target on 8 GPUs:
# >= 0.90). The rate is taken after epoch 0 (cudnn autotuning, the pipelines filling up).
#
# Usage: scripts/bench-multi-gpu.sh [--gpus 8] [--batch 256] [--images 51200] [--epochs 3]
#                                   [--backend nccl|gloo] [--out DIR]
# Needs target/release/lgd (`make build`) and the project's Python (.venv, with open_clip).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lgd=${LGD:-$root/target/release/lgd}
py=${LGD_PYTHON:-$root/.venv/bin/python}
gpus= batch=256 images=51200 epochs=3 backend=nccl
out=${TMPDIR:-/tmp}/lgd-multi-gpu
while [ $# -gt 0 ]; do
    case "$1" in
        --gpus) gpus=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --images) images=$2; shift 2 ;;
        --epochs) epochs=$2; shift 2 ;;
        --backend) backend=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ -x "$lgd" ] || { echo "error: $lgd is not built: run 'make build' first" >&2; exit 1; }
if [ -z "$gpus" ]; then
    gpus=$("$py" -c 'import torch; print(torch.cuda.device_count())')
fi
[ "$gpus" -ge 1 ] || { echo "error: no CUDA device visible" >&2; exit 1; }
mkdir -p "$out"

source "$root/scripts/bench-recipe-inputs.sh"
prepare_recipe_inputs "$images"

counts=()
for n in 1 2 4 8 16 32 64; do
    [ "$n" -le "$gpus" ] && counts+=("$n")
done
[ "${counts[-1]}" = "$gpus" ] || counts+=("$gpus")

for n in "${counts[@]}"; do
    global=$((batch * n))
    write_recipe_config "$out/run-$n.toml" cuda "$global" "$epochs" bf16 "distributed.backend=\"$backend\""
    rm -rf "$out/run-$n"
    echo "== $n GPU(s), global batch $global"
    (cd "$root" && "$lgd" launch --nproc-per-node "$n" --master-port 0 -- \
        train --config "$out/run-$n.toml" --run-dir "$out/run-$n" 2>"$out/train-$n.log") \
        || { echo "error: lgd launch failed with $n GPU(s); its log: $out/train-$n.log" >&2; tail -5 "$out/train-$n.log" >&2; exit 1; }
done

"$py" - "$out" "$(nproc)" "${counts[@]}" <<'PY'
import json, sys
out, cores, counts = sys.argv[1], sys.argv[2], [int(n) for n in sys.argv[3:]]
def delivered(run):
    rows = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
    rows = [r for r in rows if "loss" in r]
    last = rows[-1]
    first = next((r for r in rows if r["epoch"] >= 1), rows[0])
    seconds = lambda r: r["step"] / r["images_per_second"]  # training seconds / global batch
    if last["step"] > first["step"]:
        return (last["step"] - first["step"]) / (seconds(last) - seconds(first))
    return last["images_per_second"]
import torch
name = torch.cuda.get_device_name(0)
print(f"\n{name} x {max(counts)}, {cores} cores")
print(f"{'GPUs':>4} {'img/s':>10} {'img/s/GPU':>10} {'efficiency':>10}")
base = None
for n in counts:
    rate = delivered(f"{out}/run-{n}")
    base = base or rate
    print(f"{n:>4} {rate:>10.1f} {rate / n:>10.1f} {rate / (n * base):>10.2f}")
PY
