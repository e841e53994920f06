#!/usr/bin/env bash
# The teacher-output cache's trade-off, measured: the same run twice, with `teacher.cache_views`
# off and on, on the same machine; prints img/s per epoch (the replay epochs skip the teacher's
# forward pass) and the mean loss per epoch (the cached run sees only V distinct views per image).
#
# Usage: scripts/bench-teacher-cache.sh [--config FILE] [--train DIR] [--epochs 4] [--views 2]
#                                       [--device cpu|cuda] [--out DIR]
#   --config  a run config (default: the demo's, configs/demo-fashion-mnist.toml)
#   --train   training folder replacing the config's data.train (default: the demo's 12,000-image
#             subset, .cache/demo/fashion-mnist-12k/train, on which the README's figures were measured)
# Needs target/release/lgd (`make build`) and the project's Python (LGD_PYTHON or .venv).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lgd=${LGD:-$root/target/release/lgd}
py=${LGD_PYTHON:-$root/.venv/bin/python}
config=$root/configs/demo-fashion-mnist.toml
train=$root/.cache/demo/fashion-mnist-12k/train
epochs=4
views=2
device=
out=${TMPDIR:-/tmp}/lgd-teacher-cache-bench
while [ $# -gt 0 ]; do
    case "$1" in
        --config) config=$2; shift 2 ;;
        --train) train=$2; shift 2 ;;
        --epochs) epochs=$2; shift 2 ;;
        --views) views=$2; shift 2 ;;
        --device) device=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ -x "$lgd" ] || { echo "error: $lgd is not built: run 'make build' first" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
# A metric record at each epoch's end (steps per epoch: the folder's images / the batch, as lgd
# counts them), so that each epoch is timed exactly and its mean loss comes from the records'
# `mean_loss`, without reading the loss back every step (a wait for the GPU per step).
batch=$(awk '/^\[/ { section = $0 } section == "[data]" && /^batch_size *=/ { sub(/^[^=]*= */, ""); sub(/[^0-9].*/, ""); print }' "$config")
images=$(find -L "$train" -type f | grep -ciE '\.(jpe?g|png|ppm|bmp|pgm|tiff?|webp)$' || true)
[ -n "$batch" ] && [ "$images" -ge "$batch" ] \
    || { echo "error: $config's [data] batch_size (${batch:-missing}) against $images images in $train: no whole batch" >&2; exit 2; }
per_epoch=$((images / batch))
for cached in 0 "$views"; do
    # Validation off and checkpoints only at epoch ends, so the epochs time the steps.
    awk -v epochs="$epochs" -v cached="$cached" -v train="$train" -v device="$device" -v log_every="$per_epoch" '
        /^\[/ { section = $0 }
        section == "[schedule]" && /^epochs *=/ { print "epochs = " epochs; next }
        section == "[validation]" && /^every_(steps|epochs) *=/ { sub(/=.*/, "= 0"); print; next }
        section == "[checkpoint]" && /^every_steps *=/ { print "every_steps = 0"; next }
        section == "[logging]" && /^every_steps *=/ { print "every_steps = " log_every; next }
        section == "[data]" && train != "" && /^train *=/ { print "train = \"" train "\""; next }
        section == "[run]" && device != "" && /^device *=/ { print "device = \"" device "\""; next }
        { print }
        $0 == "[teacher]" { print "cache_views = " cached }
    ' "$config" >"$out/views-$cached.toml"
    echo "training with teacher.cache_views = $cached ($out/views-$cached.toml)"
    (cd "$root" && "$lgd" train --config "$out/views-$cached.toml" --run-dir "$out/views-$cached" 2>"$out/views-$cached.log")
done
"$py" - "$out" "$views" <<'PY'
import json, sys
from collections import defaultdict
out, views = sys.argv[1], int(sys.argv[2])
def epochs(run):
    rows = [json.loads(l) for l in open(f"{out}/{run}/metrics.jsonl")]
    rows = [r for r in rows if "loss" in r]
    batch = None
    per = defaultdict(list)
    for r in rows:
        per[r["epoch"]].append(r)
    result = {}
    prev_t, prev_s = 0.0, 0
    for e in sorted(per):
        last = per[e][-1]
        # images_per_second is cumulative over the run's training time (step · batch / seconds):
        # difference the totals; t is seconds / batch, so the rate below is in img/s.
        t = last["step"] / last["images_per_second"]
        rate = (last["step"] - prev_s) / (t - prev_t) if t > prev_t else float("nan")
        # Each record's mean_loss covers the steps since the one before: weigh it by their number.
        weighed, steps, before = 0.0, 0, prev_s
        for r in per[e]:
            if r.get("mean_loss") is not None:
                weighed += r["mean_loss"] * (r["step"] - before)
                steps += r["step"] - before
            before = r["step"]
        result[e] = (rate, weighed / steps if steps else float("nan"))
        prev_t, prev_s = t, last["step"]
    return result
plain, cached = epochs("views-0"), epochs(f"views-{views}")
print(f"| epoch | no cache: img/s | cache V={views}: img/s | speed-up | no cache: mean loss | cache: mean loss |")
print("|---|---|---|---|---|---|")
for e in sorted(plain):
    p, c = plain[e], cached.get(e, (float("nan"), float("nan")))
    role = "store" if e < views else "replay"
    print(f"| {e} ({role}) | {p[0]:.2f} | {c[0]:.2f} | {c[0] / p[0]:.2f}× | {p[1]:.4f} | {c[1]:.4f} |")
PY
