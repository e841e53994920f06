"""The original system end to end, the PyTorch twin of `lgd train`'s delivered rate: a torchvision
ImageFolder with the original's MoCo-v2 transform (bench_data_torchvision.py: PIL decode, crops and
colour work in the workers), a DataLoader with one worker process per core, pinned memory and
`drop_last`, feeding the LGD step of bench_step_torch.py.

The loader and the loop are those of the MoCo-family training scripts (SEED, which the original
builds on): each batch is copied to the device with `non_blocking=True`, trained on, and its loss
read back with `.item()` for the running average printed during training. One iterator serves the
whole run, over as many shuffled passes of the folder as it needs: the steady state inside one of
the original's ImageNet epochs (hundreds to thousands of steps). Restarting the workers per pass
of a small folder would charge the original a pipeline refill every few seconds.

  --config original  fp16 + GradScaler, NCHW, per-class bank loop (DESIGN §4: 549 img/s on an H200
                     with 16 cores)
  --config best      the same loop with bf16, channels_last, vectorised bank, fused SGD (676 there)

Timing: the DataLoader hands each worker whole batches, so with the GPU waiting on data batches
arrive in rounds of one per worker. `--warmup` untimed steps (default: one round, which also
starts the workers and autotunes cudnn), then `--steps` timed steps (default: four rounds), the
device synchronised at both ends: whole rounds measure the steady rate. `data_wait_fraction` is
the share of the timed span the loop spent waiting for the DataLoader: the time the GPU had
nothing queued. The bank has `--classes` random unit columns (default 1000: the published
ImageNet recipe's, as `lgd bench step`'s default); with the per-class loop of `original` its cost
grows with it.

usage: bench_end_to_end_torch.py --data DIR --config original|best [--device cuda] [--batch 256]
       [--workers N] [--steps 4N] [--warmup N] [--teacher clip-rn50|tiny] [--classes 1000]
       [--precision fp32|bf16|fp16] [--json]
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torchvision.datasets as datasets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_data_torchvision import mocov2  # noqa: E402  (the scripts folder is not a package)
from bench_step_torch import add_step_arguments, step_from_args, synchronize  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="an ImageFolder: one sub-folder of images per class")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="DataLoader worker processes (default: one per core this process may use)")
    add_step_arguments(parser, device="cuda", steps=None, warmup=None)
    args = parser.parse_args()
    args.warmup = args.workers if args.warmup is None else args.warmup
    args.steps = 4 * args.workers if args.steps is None else args.steps
    if args.batch < 1 or args.steps < 1 or args.warmup < 0 or args.workers < 1:
        parser.error("--batch, --steps and --workers must be >= 1, --warmup >= 0")
    return args


def batches(folder, args, memory_format, device):
    """The run's device batches, each with the seconds the loop waited for the DataLoader."""
    passes = torch.utils.data.RandomSampler(folder, num_samples=(args.warmup + args.steps) * args.batch)
    loader = torch.utils.data.DataLoader(folder, batch_size=args.batch, sampler=passes, num_workers=args.workers,
                                         pin_memory=device.type == "cuda", drop_last=True)
    it = iter(loader)
    while True:
        asked = time.perf_counter()
        images, _ = next(it)
        waited = time.perf_counter() - asked
        yield images.to(device, non_blocking=True).contiguous(memory_format=memory_format), waited


def main():
    args = parse_args()
    lgd = step_from_args(args, "bench_end_to_end_torch")
    device = lgd.device
    folder = datasets.ImageFolder(args.data, transform=mocov2(lgd.side))  # 224 px for CLIP RN50
    feed = batches(folder, args, lgd.memory_format, device)
    losses = []  # the original's AverageMeter: one .item() per step

    started = time.perf_counter()
    for _ in range(args.warmup):
        images, _ = next(feed)
        losses.append(lgd.step(images).item())
    synchronize(device)
    warmup_seconds = time.perf_counter() - started
    scale_before = lgd.scale()
    waited = 0.0
    start = time.perf_counter()
    for _ in range(args.steps):
        images, wait = next(feed)
        waited += wait
        losses.append(lgd.step(images).item())
    synchronize(device)
    seconds = time.perf_counter() - start
    feed.close()
    skipped = lgd.skipped_since(scale_before, args.steps)
    config = lgd.config
    report = {
        "side": f"torch-{args.config}-end-to-end", "device": str(device), "teacher": args.teacher, "student": "resnet18",
        "images": len(folder), "batch": args.batch, "workers": args.workers, "steps": args.steps,
        "warmup": args.warmup, "warmup_seconds": warmup_seconds, **lgd.configuration(), "skipped_steps": skipped, "final_loss": losses[-1], "mean_timed_loss": sum(losses[args.warmup:]) / args.steps,
        "seconds": seconds, "images_per_second": args.batch * args.steps / seconds,
        "data_wait_fraction": waited / seconds, "torch": torch.__version__,
    }
    if not math.isfinite(report["final_loss"]):
        sys.exit(f"the last timed step's loss is {report['final_loss']}: the figure would not measure whole steps")
    if args.json:
        print(json.dumps(report))
    else:
        print(f"bench_end_to_end_torch --config {args.config}: {device}, {len(folder)} images in {args.data}, "
              f"{args.workers} DataLoader workers, batch {args.batch}, {lgd.precision}"
              f"{' channels_last' if config['channels_last'] else ''}, "
              f"{'vectorised' if config['vectorised_bank'] else 'per-class loop'} bank update over {args.classes} classes, "
              f"{args.steps} steps after {args.warmup} warm-up ({warmup_seconds:.1f} s)")
        print(f"{report['images_per_second']:.1f} img/s delivered; waiting for the DataLoader "
              f"{100 * report['data_wait_fraction']:.1f} % of the time (final loss {report['final_loss']:.4f}, "
              f"{skipped} skipped by the scaler)")


if __name__ == "__main__":
    main()
