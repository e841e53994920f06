#!/usr/bin/env bash
# The training-step comparison of the README ("Step benchmark"): the PyTorch twin in its two
# configurations (original: fp16 + GradScaler, NCHW, per-class bank loop; best: bf16, channels_last,
# vectorised bank) and `lgd bench step` in its best configuration (bf16, channels_last), one after
# the other on the same device, then one table of img/s with the ratios the issue targets
# (lgd/best >= 1.0x, lgd/original >= 2.2x on the same GPU).
#
# Usage: scripts/bench-step.sh [--device cuda] [--batch 256] [--steps 50] [--warmup 10]
#                              [--teacher clip-rn50|tiny] [--classes 1000] [--precision fp32|bf16]
#   --device     cuda, cuda:N or cpu (default: cuda when PyTorch sees one, else cpu)
#   --batch      images per step (default 256 on CUDA, 8 on the CPU)
#   --steps      timed steps (default 50 on CUDA, 5 on the CPU); --warmup untimed steps before them
#   --precision  one dtype for all three runs instead of each configuration's own (on CUDA:
#                original fp16, best and lgd bf16). On the CPU it defaults to fp32: fp16 autocast
#                is not usable there, and bf16 CPU kernels without native support are several times
#                slower than fp32. The table shows the dtype each run used. Needs target/release/lgd (`make build`) and the project's Python (.venv).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lgd=${LGD:-$root/target/release/lgd}
py=${LGD_PYTHON:-$root/.venv/bin/python}
device="" batch="" steps="" warmup="" teacher=clip-rn50 classes=1000 precision=
while [ $# -gt 0 ]; do
    case "$1" in
        --device) device=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --teacher) teacher=$2; shift 2 ;;
        --classes) classes=$2; shift 2 ;;
        --precision) precision=$2; shift 2 ;;
        *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ -x "$lgd" ] || { echo "error: $lgd is not built: run 'make build' first" >&2; exit 1; }
[ -x "$py" ] || { echo "error: python $py not found: run 'make setup' or set LGD_PYTHON" >&2; exit 1; }
if [ -z "$device" ]; then
    device=$("$py" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
fi
if [ "$device" = cpu ]; then
    batch=${batch:-8} steps=${steps:-5} warmup=${warmup:-2} precision=${precision:-fp32}
else
    batch=${batch:-256} steps=${steps:-50} warmup=${warmup:-10}
fi
common=(--device "$device" --batch "$batch" --steps "$steps" --warmup "$warmup" --teacher "$teacher" --classes "$classes" --json)
override=()
[ -n "$precision" ] && override=(--precision "$precision")

original=$("$py" "$root/scripts/bench_step_torch.py" --config original "${override[@]}" "${common[@]}")
echo "$original"
best=$("$py" "$root/scripts/bench_step_torch.py" --config best "${override[@]}" "${common[@]}")
echo "$best"
ours=$("$lgd" bench step --precision "${precision:-bf16}" --channels-last "${common[@]}")
echo "$ours"

# One row per run, then the ratios; the JSON is read with the same Python.
"$py" - "$original" "$best" "$ours" <<'EOF'
import json, sys
runs = [json.loads(line) for line in sys.argv[1:]]
first = runs[0]
print()
print(f"device {first['device']}, teacher {first['teacher']} ({first['image_size']} px, D={first['embed_dim']}), "
      f"student resnet18, {first['classes']} classes, batch {first['batch']}, {first['steps']} timed steps "
      f"after {first['warmup']} warm-up")
print()
print("| side | precision | channels_last | bank update | img/s | ms/step |")
print("|---|---|---|---|---|---|")
for r in runs:
    bank = "vectorised" if r.get("vectorised_bank", True) else "per-class loop"
    scaler = " + GradScaler" if r.get("grad_scaler", r["precision"] == "fp16") else ""
    print(f"| {r['side']} | {r['precision']}{scaler} | {'yes' if r['channels_last'] else 'no'} | {bank} "
          f"| {r['images_per_second']:.1f} | {r['ms_per_step']:.1f} |")
original, best, ours = (r["images_per_second"] for r in runs)
print()
print(f"lgd / torch-best: {ours / best:.2f}x (target >= 1.0x on the same GPU)")
print(f"lgd / torch-original: {ours / original:.2f}x (target >= 2.2x on the same GPU)")
if runs[0]["precision"] != "fp16":
    print(f"note: torch-original ran in {runs[0]['precision']}, not its fp16 + GradScaler (--precision)")
EOF
