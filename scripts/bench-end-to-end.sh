#!/usr/bin/env bash
# End to end on one machine: does the data path keep the GPU fed? Runs, on the same device,
#  1. scripts/bench-step.sh: the training step alone (PyTorch twin original / best, `lgd bench
#     step`) — the GPU-bound rate;
#  2. `lgd train` on a folder of synthetic ImageNet-like JPEGs with the published recipe's shapes
#     (CLIP RN50 teacher with random weights, ResNet-18 student, MoCo-v2 views at 224 px, bf16
#     autocast, channels_last, photometric stage on the device, one decode worker per core);
# and prints delivered img/s against the step-bound rate (target: >= 0.9 on a 16-core H100/H200)
# and the stage that bounded it; then
#  3. the original system end to end on the same images (scripts/bench_end_to_end_torch.py: its
#     DataLoader with one worker per core feeding its step), and lgd's delivered rate against it
#     (the issue's >= 9x).
#
# Usage: scripts/bench-end-to-end.sh [--device cuda] [--images 12800] [--epochs 3] [--batch 256]
#                                    [--precision bf16|fp32] [--photometric device|host] [--out DIR]
#                                    [--no-twin] [--original-rounds 4] [--teacher-stream own|shared]
#   --precision  autocast of `lgd train` and `lgd bench step` (default bf16 on CUDA, fp32 on the
#                CPU, where bf16 kernels without native support are several times slower)
#   --no-twin    leave out step 1's PyTorch twin (when bench-step.sh already ran in the session);
#                the step-bound rate still comes from `lgd bench step`
#   --original-rounds  timed rounds of step 3, one batch per worker each, after one untimed
#                round (0 leaves step 3 out; default 4)
#   --teacher-stream  own: the device stage queues its work (upload, photometric half, teacher)
#                on a CUDA stream of its own (`teacher.own_stream = true`); shared (default): on
#                the default stream, behind the student's step
# Needs target/release/lgd (`make build`) and the project's Python (.venv, with open_clip).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lgd=${LGD:-$root/target/release/lgd}
py=${LGD_PYTHON:-$root/.venv/bin/python}
device=cuda images=12800 epochs=3 batch=256 photometric=device precision= twin=1 stream=shared original_rounds=4
out=${TMPDIR:-/tmp}/lgd-end-to-end
while [ $# -gt 0 ]; do
    case "$1" in
        --device) device=$2; shift 2 ;;
        --images) images=$2; shift 2 ;;
        --epochs) epochs=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --photometric) photometric=$2; shift 2 ;;
        --precision) precision=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --no-twin) twin=0; shift ;;
        --original-rounds) original_rounds=$2; shift 2 ;;
        --teacher-stream) stream=$2; shift 2 ;;
        *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
case $stream in own) own_stream=true ;; shared) own_stream=false ;; *) echo "error: --teacher-stream own|shared, got $stream" >&2; exit 2 ;; esac
[ -x "$lgd" ] || { echo "error: $lgd is not built: run 'make build' first" >&2; exit 1; }
if [ -z "$precision" ]; then
    case $device in cpu) precision=fp32 ;; *) precision=bf16 ;; esac
fi
mkdir -p "$out"

source "$root/scripts/bench-recipe-inputs.sh"
prepare_recipe_inputs "$images"

echo "== the step alone (GPU-bound rate)"
step_args=(--device "$device" --batch "$batch")
[ "$device" = cpu ] && step_args+=(--precision "$precision")
[ "$twin" = 1 ] && bash "$root/scripts/bench-step.sh" "${step_args[@]}"
step_rate=$("$lgd" bench step --device "$device" --batch "$batch" --precision "$precision" --channels-last --json \
    | "$py" -c 'import json, sys; print(json.load(sys.stdin)["images_per_second"])')

echo "== lgd train, data path included"
write_recipe_config "$out/run.toml" "$device" "$batch" "$epochs" "$precision" "augmentation.photometric=\"$photometric\"" \
    "teacher.own_stream=$own_stream"
rm -rf "$out/run"
(cd "$root" && "$lgd" train --config "$out/run.toml" --run-dir "$out/run" 2>"$out/train.log") \
    || { echo "error: lgd train failed; its log: $out/train.log" >&2; tail -5 "$out/train.log" >&2; exit 1; }

"$py" - "$out/run" "$step_rate" "$(nproc)" "$precision" "$out/delivered.txt" <<'PY'
import json, sys
run, step_rate, cores, precision, delivered_file = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
status = json.load(open(f"{run}/status.json"))
rows = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
rows = [r for r in rows if "loss" in r]
last = rows[-1]
# images_per_second is cumulative (step · batch / training seconds): the rate after epoch 0 (cudnn
# autotuning, the pipeline filling up) is the difference of two cumulative points.
first = next((r for r in rows if r["epoch"] >= 1), rows[0])
seconds = lambda r: r["step"] / r["images_per_second"]  # training seconds / batch
if last["step"] > first["step"]:
    delivered = (last["step"] - first["step"]) / (seconds(last) - seconds(first))
    span = f"steps {first['step']}..{last['step']}"
else:
    delivered, span = last["images_per_second"], f"all {last['step']} steps"
print()
print(f"cores {cores}; lgd bench step ({precision}, channels_last): {step_rate:.1f} img/s")
print(f"lgd train, {span}: {delivered:.1f} img/s delivered, "
      f"{delivered / step_rate:.2f} of the step-bound rate (target >= 0.90)")
print(f"data wait: {100 * last['data_wait_fraction']:.1f} %, device-stage wait: {100 * last.get('teacher_wait_fraction', 0):.1f} % "
      f"of training time; bound by: {status.get('bound_by')}")
for stage in last["stages"]:
    print(f"  {stage['name']:<16} busy {100 * stage['busy_fraction']:5.1f} %  wait {100 * stage['wait_fraction']:5.1f} %")
gpu = (last.get("memory") or {}).get("gpu")
if gpu:
    print(f"GPU peak allocated {gpu['peak_allocated_bytes'] / 2**30:.2f} GiB, peak reserved {gpu['peak_reserved_bytes'] / 2**30:.2f} GiB")
open(delivered_file, "w").write(f"{delivered}\n")
PY

# Printed after lgd's figures, so that a time limit reached in here loses only this part.
if [ "$original_rounds" -gt 0 ]; then
    workers=$(nproc)
    echo
    echo "== the original end to end: its DataLoader ($workers workers) feeding its step"
    original_args=(--data "$out/images" --config original --device "$device" --batch "$batch" --workers "$workers"
                   --warmup "$workers" --steps "$((original_rounds * workers))" --json)
    [ "$device" = cpu ] && original_args+=(--precision fp32)  # fp16 + GradScaler needs CUDA
    "$py" "$root/scripts/bench_end_to_end_torch.py" "${original_args[@]}" >"$out/original.json"
    cat "$out/original.json"
    "$py" - "$out/original.json" "$out/delivered.txt" <<'PY'
import json, sys
original, delivered = json.load(open(sys.argv[1])), float(open(sys.argv[2]).read())
rate = original["images_per_second"]
print(f"the original end to end: {rate:.1f} img/s ({original['workers']} DataLoader workers, {original['precision']}, "
      f"{original['steps']} steps after {original['warmup']}; waiting for its DataLoader {100 * original['data_wait_fraction']:.0f} % of the time)")
print(f"lgd delivers {delivered / rate:.2f}x the original end to end (target >= 9x)")
PY
fi
