"""Oracle for the parameter samplers: torchvision's own samplers vs the Rust draws, by two-sample
Kolmogorov-Smirnov tests.

Usage: python samplers.py DIR
DIR holds the Rust draws (rrc_<W>x<H>_<MIN SCALE>.csv: top,left,height,width; view_<RECIPE>.csv:
one view's random choices per line). This script draws as many from torchvision
(RandomResizedCrop.get_params, ColorJitter.get_params, RandomApply / RandomGrayscale /
RandomHorizontalFlip gates, the blur sigma as each reference draws it) with each recipe's published
values, and prints one JSON object {test name: p-value}.
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


# Each recipe as its reference code builds it: (jitter p, ColorJitter args, grayscale p, blur p,
# sigma sampler). MoCo v1 applies ColorJitter without RandomApply (p 1) and has no blur.
RECIPES = {
    "mocov1": (1.0, (0.4, 0.4, 0.4, 0.4), 0.2, 0.0, None),
    "mocov2": (0.8, (0.4, 0.4, 0.4, 0.1), 0.2, 0.5, lambda: random.uniform(0.1, 2.0)),
    "simclr": (0.8, (0.8, 0.8, 0.8, 0.2), 0.2, 0.5, lambda: random.uniform(0.1, 2.0)),
    "swav": (0.8, (0.8, 0.8, 0.8, 0.2), 0.2, 0.5, lambda: np.random.rand() * 1.9 + 0.1),
}


def main():
    d = sys.argv[1]
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    pvalues = {}

    def ks(name, ours, theirs):
        pvalues[name] = float(scipy.stats.ks_2samp(ours, theirs).pvalue)

    for path in sorted(glob.glob(os.path.join(d, "rrc_*.csv"))):
        ours = read(path)
        n = len(ours["top"])
        size, scale = os.path.basename(path)[4:-4].split("_")
        w, h = map(int, size.split("x"))
        img = torch.empty(3, h, w)
        draws = np.array([T.RandomResizedCrop.get_params(img, [float(scale), 1.0], [3 / 4, 4 / 3]) for _ in range(n)])
        for k, col in enumerate(["top", "left", "height", "width"]):
            ks(f"rrc {w}x{h} s{scale} {col}", ours[col], draws[:, k])

    pvalues["_rates"] = {}
    for recipe, spec in RECIPES.items():
        view_tests(recipe, spec, read(os.path.join(d, f"view_{recipe}.csv")), ks, pvalues["_rates"])
    print(json.dumps(pvalues))


def view_tests(recipe, spec, ours, ks, rates):
    jitter_p, (bs, cs, ss, hs), gray_p, blur_p, sigma = spec
    n = len(ours["jitter"])
    rgb = torch.tensor([[[0.1]], [[0.5]], [[0.9]]])  # 3x1x1, distinct channels
    lr = torch.tensor([[[0.0, 1.0]]] * 3)  # 3x1x2, left != right
    jitter_gate = T.RandomApply([lambda x: "applied"], p=jitter_p)
    gray = T.RandomGrayscale(p=gray_p)
    blur_gate = T.RandomApply([lambda x: "applied"], p=blur_p)
    flip = T.RandomHorizontalFlip(p=0.5)
    cols = {k: [] for k in ["jitter", "grayscale", "blur", "flip", "sigma", "order", "brightness", "contrast", "saturation", "hue"]}
    rng = lambda s: (max(0.0, 1 - s), 1 + s)
    for _ in range(n):
        cols["jitter"].append(float(jitter_gate(None) == "applied"))
        fn_idx, b, c, s, hh = T.ColorJitter.get_params(rng(bs), rng(cs), rng(ss), (-hs, hs))
        cols["order"].append(float(sum(int(v) * 4 ** (3 - i) for i, v in enumerate(fn_idx))))
        for k, v in zip(["brightness", "contrast", "saturation", "hue"], [b, c, s, hh]):
            cols[k].append(v)
        g = gray(rgb)
        cols["grayscale"].append(float(bool((g[0] == g[1]).all())))
        cols["blur"].append(float(blur_gate(None) == "applied"))
        if sigma is not None:
            cols["sigma"].append(sigma())
        cols["flip"].append(float(bool(flip(lr)[0, 0, 0] == 1.0)))
    applied = ours["jitter"] == 1
    blurred = ours["blur"] == 1
    for k in ["jitter", "grayscale", "blur", "flip"]:
        ks(f"{recipe} p({k})", ours[k], np.array(cols[k]))
    for k in ["order", "brightness", "contrast", "saturation", "hue"]:
        ks(f"{recipe} jitter {k}", ours[k][applied], np.array(cols[k]))
    if sigma is not None:
        ks(f"{recipe} blur sigma", ours["sigma"][blurred], np.array(cols["sigma"]))
    else:
        assert not blurred.any(), f"{recipe} has no blur, yet the Rust draws blurred"
    rates[recipe] = {k: float(ours[k].mean()) for k in ["jitter", "grayscale", "blur", "flip"]}


if __name__ == "__main__":
    main()
