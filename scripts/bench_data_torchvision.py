#!/usr/bin/env python3
"""The Python twin of `lgd bench data`: torchvision + PIL, the original's MoCo-v2 data path.

Usage: bench_data_torchvision.py --data DIR --threads N [--images K]

Same files (torchvision's ImageFolder over DIR, PIL loader), same recipe (MoCo-v2 as in the
original's main_lgd.py: RandomResizedCrop(224, scale 0.2-1), ColorJitter(0.4, 0.4, 0.4, 0.1) with
p=0.8, RandomGrayscale(0.2), PIL GaussianBlur(sigma in [0.1, 2]) with p=0.5, flip, ToTensor,
Normalize with CLIP's constants). One thread: a plain loop in this process. N threads: a
DataLoader with N worker processes (torch's one-thread-per-worker default), as the original
trains. Prints img/s, img/s per core and images per CPU-second (what the cores did, whatever
else runs on the machine) in the same words as the Rust benchmark.
"""
import argparse
import random
import resource
import sys
import time

import torch
import torchvision.datasets as datasets
import torchvision.transforms as T
from PIL import ImageFilter

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class GaussianBlur:
    """MoCo-v2's blur: PIL's GaussianBlur with radius = sigma drawn uniformly."""

    def __init__(self, sigma=(0.1, 2.0)):
        self.sigma = sigma

    def __call__(self, x):
        return x.filter(ImageFilter.GaussianBlur(radius=random.uniform(*self.sigma)))


def mocov2(size=224):
    return T.Compose([
        T.RandomResizedCrop(size, scale=(0.2, 1.0)),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([GaussianBlur((0.1, 2.0))], p=0.5),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize(CLIP_MEAN, CLIP_STD),
    ])


class Cycled(torch.utils.data.Dataset):
    """`count` samples cycling over the folder (index mod the number of files), as the Rust side."""

    def __init__(self, folder, count):
        self.folder, self.count = folder, count

    def __len__(self):
        return self.count

    def __getitem__(self, i):
        return self.folder[i % len(self.folder)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--images", type=int, default=None)
    args = ap.parse_args()
    if args.threads < 1:
        sys.exit("error: --threads must be at least 1")
    torch.set_num_threads(1)
    folder = datasets.ImageFolder(args.data, transform=mocov2())
    count = args.images or max(len(folder), 200)
    warmup = min(2 * args.threads, count)
    if args.threads == 1:
        for i in range(warmup):
            folder[i % len(folder)]
        cpu_start = time.process_time()
        start = time.perf_counter()
        for i in range(warmup, warmup + count):
            folder[i % len(folder)]
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
    else:
        loader = torch.utils.data.DataLoader(Cycled(folder, count + warmup * 16), batch_size=16,
                                             num_workers=args.threads, persistent_workers=False)
        it = iter(loader)
        # The first batches include starting the workers: untimed, as the Rust warm-up.
        for _ in range(warmup):
            next(it)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu_start = usage.ru_utime + usage.ru_stime
        start = time.perf_counter()
        done = 0
        for batch, _ in it:
            done += batch.shape[0]
        elapsed = time.perf_counter() - start
        count = done
        del it  # the workers exit and are reaped: their CPU time lands in RUSAGE_CHILDREN
        time.sleep(0.5)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The workers' time includes their few warm-up batches (a small over-count against us).
        cpu = usage.ru_utime + usage.ru_stime - cpu_start + kids.ru_utime + kids.ru_stime
    rate = count / elapsed
    print(f"torchvision+PIL MoCo-v2 CPU path: {args.threads} threads, {count} images in {elapsed:.2f} s: "
          f"{rate:.0f} img/s, {rate / args.threads:.0f} img/s/core, {count / cpu:.0f} img/CPU-s")


if __name__ == "__main__":
    main()
