"""FFCV's side of scripts/bench-pack.sh, and the fidelity of both packers' stores.

`write`: times FFCV's DatasetWriter (RGBImageField, write_mode='jpg') over an image folder, read
as torchvision's ImageFolder reads it (sorted classes, sorted files, PIL's convert("RGB")), with
`--threads` worker processes; prints one line: wall seconds and CPU seconds of the writer call
(the Python and torch start-up left out), .beton bytes, JPEG bytes (the allocations of the image
field, without FFCV's page padding).

`psnr`: decodes every JPEG a .beton or an lgd pack stores (with PIL, one decoder for both) and
prints the mean PSNR against the original decoded by PIL and, where the store is smaller, shrunk
to the stored size by PIL's antialiased bilinear resize (torchvision's, which lgd's resize
reproduces and FFCV's INTER_AREA does not: the figure for images kept at their size compares the
codecs alone).

Runs in FFCV's own environment (see scripts/bench-pack.sh), not the project's .venv.
"""

import argparse
import io
import multiprocessing
import os
import resource
import struct
import sys
import time

import numpy as np
from PIL import Image


def folder_samples(root):
    """(path, label) in torchvision ImageFolder order."""
    classes = sorted(d.name for d in os.scandir(root) if d.is_dir())
    samples = []
    for label, name in enumerate(classes):
        for dirpath, _, files in sorted(os.walk(os.path.join(root, name))):
            for f in sorted(files):
                if f.lower().endswith((".jpg", ".jpeg", ".png")):
                    samples.append((os.path.join(dirpath, f), label))
    return samples


class Folder:
    """An indexed dataset for FFCV's writer: (PIL RGB image, label)."""

    def __init__(self, root):
        self.samples = folder_samples(root)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        with open(path, "rb") as f:
            return Image.open(f).convert("RGB"), label


def write(args):
    from ffcv.fields import IntField, RGBImageField
    from ffcv.writer import DatasetWriter

    dataset = Folder(args.data)
    fields = {
        "image": RGBImageField(write_mode="jpg", max_resolution=args.max_side, jpeg_quality=args.quality),
        "label": IntField(),
    }
    writer = DatasetWriter(args.out, fields, num_workers=args.threads)
    start, cpu_start = time.perf_counter(), cpu_seconds()
    writer.from_indexed_dataset(dataset)
    seconds = time.perf_counter() - start
    # The writer leaves its finished workers unreaped; their CPU time counts once they are.
    for worker in multiprocessing.active_children():
        worker.join()
    cpu = cpu_seconds() - cpu_start
    jpeg = int(beton_jpegs(args.out)[1].sum())
    print(f"ffcv {seconds:.2f} s {cpu:.2f} cpu-s {os.path.getsize(args.out)} beton-bytes {jpeg} jpeg-bytes {len(dataset)} images")


def cpu_seconds():
    """User + system time of this process and of its reaped children (the writer's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def beton_jpegs(path):
    """(ptr, size) arrays of the image allocations of a .beton, in sample order."""
    from ffcv.reader import Reader

    table = Reader(path).alloc_table
    order = np.argsort(table["sample_id"], kind="stable")
    return table["ptr"][order], table["size"][order]


def beton_images(path):
    ptrs, sizes = beton_jpegs(path)
    with open(path, "rb") as f:
        data = f.read()
    for ptr, size in zip(ptrs, sizes):
        yield data[int(ptr) : int(ptr) + int(size)]


def pack_images(root):
    """The samples of an lgd pack (index.lgdpack, format version 1): (relative path, bytes)."""
    with open(os.path.join(root, "index.lgdpack"), "rb") as f:
        index = f.read()
    assert index[:8] == b"LGDPACK\0", f"{root}: not an lgd pack"
    n_classes, n_shards, n_samples = struct.unpack_from("<IIQ", index, 24)
    at = 64
    for _ in range(n_classes):
        (n,) = struct.unpack_from("<I", index, at)
        at += 4 + n
    shards = []
    for _ in range(n_shards):
        (n,) = struct.unpack_from("<I", index, at)
        shards.append(index[at + 4 : at + 4 + n].decode())
        at += 4 + n + 8
    records = (at + 7) // 8 * 8
    paths = records + 40 * n_samples
    maps = [open(os.path.join(root, s), "rb").read() for s in shards]
    for i in range(n_samples):
        shard, _, offset, length, _, path_offset, path_len = struct.unpack_from("<IIQIIQI", index, records + 40 * i)
        name = index[paths + path_offset : paths + path_offset + path_len].decode()
        yield name, maps[shard][offset : offset + length]


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def fidelity(args):
    samples = folder_samples(args.data)
    if args.beton:
        stored = ((p, b) for (p, _), b in zip(samples, beton_images(args.beton)))
        who = "ffcv"
    else:
        stored = ((os.path.join(args.data, name), b) for name, b in pack_images(args.pack))
        who = "lgd"
    kept, shrunk = [], []
    for path, jpeg in stored:
        image = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
        original = Image.open(path).convert("RGB")
        size = (image.shape[1], image.shape[0])
        if original.size == size:
            kept.append(psnr(image, np.asarray(original)))
        else:
            shrunk.append(psnr(image, np.asarray(original.resize(size, Image.BILINEAR))))
    both = kept + shrunk
    print(
        f"{who} psnr-all {np.mean(both):.2f} dB over {len(both)}; kept-size {np.mean(kept):.2f} dB over {len(kept)}; "
        f"shrunk {np.mean(shrunk) if shrunk else float('nan'):.2f} dB over {len(shrunk)}"
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write")
    w.add_argument("--data", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--max-side", type=int, required=True)
    w.add_argument("--quality", type=int, required=True)
    w.add_argument("--threads", type=int, required=True)
    f = sub.add_parser("psnr")
    f.add_argument("--data", required=True)
    store = f.add_mutually_exclusive_group(required=True)
    store.add_argument("--beton")
    store.add_argument("--pack")
    args = p.parse_args()
    write(args) if args.command == "write" else fidelity(args)


if __name__ == "__main__":
    sys.exit(main())
