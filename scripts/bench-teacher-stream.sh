#!/usr/bin/env bash
# The device stage on a CUDA stream of its own (`teacher.own_stream = true`) against the same run
# on the shared default stream: reruns scripts/bench-end-to-end.sh with `--teacher-stream own` on
# the inputs of a run it already made (--base: its images, classes and teacher are reused, its run/
# is the shared-stream side), then prints both runs' img/s and their losses at every logged step.
# The seeds are the same, so the losses must agree to autocast's rounding (cudnn may pick other
# kernels); a gap far beyond that would mean the hand-over between the streams is wrong.
#
# Usage: scripts/bench-teacher-stream.sh --base DIR [--out DIR] [--device cuda] [--epochs 3]
#                                        [--batch 256] [--precision bf16|fp32]
#   --base  the --out of a finished `bench-end-to-end.sh` run (same images, epochs and batch)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${LGD_PYTHON:-$root/.venv/bin/python}
base= out= device=cuda epochs=3 batch=256 precision=
while [ $# -gt 0 ]; do
    case "$1" in
        --base) base=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --device) device=$2; shift 2 ;;
        --epochs) epochs=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --precision) precision=$2; shift 2 ;;
        *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ -n "$base" ] && [ -f "$base/run/metrics.jsonl" ] && [ -f "$base/images/.complete" ] \
    || { echo "error: --base must name the --out of a finished bench-end-to-end.sh run" >&2; exit 2; }
out=${out:-$base-own-stream}
mkdir -p "$out"
for input in images classnames.txt rn50-random.safetensors; do
    ln -sfn "$base/$input" "$out/$input"
done
extra=(--device "$device" --epochs "$epochs" --batch "$batch" --no-twin --original-rounds 0 --teacher-stream own --out "$out")
[ -n "$precision" ] && extra+=(--precision "$precision")
# --images only sizes a new set of images; the base's, linked above, are complete and reused.
bash "$root/scripts/bench-end-to-end.sh" --images 1 "${extra[@]}"

"$py" - "$base/run" "$out/run" <<'PY'
import json, sys
def logged(run):
    rows = [json.loads(line) for line in open(f"{run}/metrics.jsonl")]
    return {r["step"]: r for r in rows if "loss" in r}
shared, own = logged(sys.argv[1]), logged(sys.argv[2])
steps = sorted(set(shared) & set(own))
if not steps:
    sys.exit("the two runs logged no step in common")
print()
print(f"{'step':>6} {'loss, shared stream':>20} {'loss, own stream':>18} {'relative gap':>13}")
worst = 0.0
for step in steps:
    a, b = shared[step]["loss"], own[step]["loss"]
    gap = abs(a - b) / max(abs(a), 1e-12)
    worst = max(worst, gap)
    print(f"{step:>6} {a:>20.6f} {b:>18.6f} {gap:>13.2e}")
last = steps[-1]
rate = lambda rows: rows[last]["images_per_second"]
print(f"largest relative loss gap {worst:.2e} over {len(steps)} logged steps"
      + ("  <-- far beyond rounding: check the stream hand-over" if worst > 0.05 else ""))
print(f"cumulative img/s at step {last}: shared {rate(shared):.1f}, own {rate(own):.1f} "
      f"({rate(own) / rate(shared):.3f}x)")
PY
