"""Oracle for the parameter samplers: torchvision's own samplers vs the Rust draws, by two-sample
Kolmogorov-Smirnov tests.

Usage: python samplers.py DIR
DIR holds the Rust draws (rrc_<W>x<H>.csv: top,left,height,width; view.csv: one MoCo-v2 view's
random choices per line). This script draws as many from torchvision (RandomResizedCrop.get_params,
ColorJitter.get_params, RandomApply / RandomGrayscale / RandomHorizontalFlip gates, MoCo's
GaussianBlur sigma = random.uniform(0.1, 2.0)) and prints one JSON object {test name: p-value}.
"""
import csv
import glob
import json
import os
import random
import sys

import numpy as np
import scipy.stats
import torch
import torchvision.transforms as T


def read(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def main():
    d = sys.argv[1]
    torch.manual_seed(0)
    random.seed(0)
    pvalues = {}

    def ks(name, ours, theirs):
        pvalues[name] = float(scipy.stats.ks_2samp(ours, theirs).pvalue)

    for path in sorted(glob.glob(os.path.join(d, "rrc_*.csv"))):
        ours = read(path)
        n = len(ours["top"])
        w, h = map(int, os.path.basename(path)[4:-4].split("x"))
        img = torch.empty(3, h, w)
        draws = np.array([T.RandomResizedCrop.get_params(img, [0.2, 1.0], [3 / 4, 4 / 3]) for _ in range(n)])
        for k, col in enumerate(["top", "left", "height", "width"]):
            ks(f"rrc {w}x{h} {col}", ours[col], draws[:, k])

    ours = read(os.path.join(d, "view.csv"))
    n = len(ours["jitter"])
    rgb = torch.tensor([[[0.1]], [[0.5]], [[0.9]]])  # 3x1x1, distinct channels
    lr = torch.tensor([[[0.0, 1.0]]] * 3)  # 3x1x2, left != right
    jitter_gate = T.RandomApply([lambda x: "applied"], p=0.8)
    gray = T.RandomGrayscale(p=0.2)
    blur_gate = T.RandomApply([lambda x: "applied"], p=0.5)
    flip = T.RandomHorizontalFlip(p=0.5)
    cols = {k: [] for k in ["jitter", "grayscale", "blur", "flip", "sigma", "order", "brightness", "contrast", "saturation", "hue"]}
    for _ in range(n):
        cols["jitter"].append(float(jitter_gate(None) == "applied"))
        fn_idx, b, c, s, hh = T.ColorJitter.get_params((0.6, 1.4), (0.6, 1.4), (0.6, 1.4), (-0.1, 0.1))
        cols["order"].append(float(sum(int(v) * 4 ** (3 - i) for i, v in enumerate(fn_idx))))
        for k, v in zip(["brightness", "contrast", "saturation", "hue"], [b, c, s, hh]):
            cols[k].append(v)
        g = gray(rgb)
        cols["grayscale"].append(float(bool((g[0] == g[1]).all())))
        cols["blur"].append(float(blur_gate(None) == "applied"))
        cols["sigma"].append(random.uniform(0.1, 2.0))
        cols["flip"].append(float(bool(flip(lr)[0, 0, 0] == 1.0)))
    applied = ours["jitter"] == 1
    blurred = ours["blur"] == 1
    for k in ["jitter", "grayscale", "blur", "flip"]:
        ks(f"p({k})", ours[k], np.array(cols[k]))
    for k in ["order", "brightness", "contrast", "saturation", "hue"]:
        ks(f"jitter {k}", ours[k][applied], np.array(cols[k]))
    ks("blur sigma", ours["sigma"][blurred], np.array(cols["sigma"]))
    pvalues["_rates"] = {k: float(ours[k].mean()) for k in ["jitter", "grayscale", "blur", "flip"]}
    print(json.dumps(pvalues))


if __name__ == "__main__":
    main()
