"""Oracle for the pixel operations: torchvision's PIL path with FIXED parameters.

Usage: python ops.py OUTDIR
Writes the inputs (real photos from scikit-image and synthetic images) as PNG, the reference output
of every case as PNG (or raw little-endian f32 for ToTensor+Normalize), and OUTDIR/cases.json, which
the Rust test `augment_matches_torchvision` walks. Only torchvision/PIL functions compute the
references; nothing here re-implements an operation.
"""
import json
import os
import sys

import numpy as np
import skimage.color
import skimage.data
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image, ImageFilter

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def inputs():
    rng = np.random.default_rng(1234)
    yield "astronaut", skimage.data.astronaut()
    yield "chelsea", skimage.data.chelsea()
    yield "coffee", skimage.data.coffee()
    yield "rocket", skimage.data.rocket()
    yield "noise", rng.integers(0, 256, size=(61, 97, 3), dtype=np.uint8)
    # Every hue at every saturation and value: stresses the HSV round trip.
    h, s = np.meshgrid(np.linspace(0, 1, 256, endpoint=False), np.linspace(0, 1, 64))
    hsv = np.stack([h, s, np.clip(0.3 + s, 0, 1)], -1)
    yield "hsvwheel", (255 * skimage.color.hsv2rgb(hsv)).round().astype(np.uint8)
    check = ((np.indices((33, 40)).sum(0) % 2) * 255).astype(np.uint8)
    yield "checker", np.stack([check, 255 - check, check // 2], -1)


def cases(name, w, h):
    """(op, params) pairs for an input of size w x h."""
    yield "resized_crop", {"top": 0, "left": 0, "height": h, "width": w, "out_w": 224, "out_h": 224}
    yield "resized_crop", {"top": h // 5, "left": w // 7, "height": h // 2, "width": w // 3, "out_w": 224, "out_h": 224}
    yield "resized_crop", {"top": 3, "left": 5, "height": min(h - 3, 40), "width": min(w - 5, 27), "out_w": 224, "out_h": 224}
    yield "resized_crop", {"top": 1, "left": 2, "height": h - 1, "width": w - 2, "out_w": 57, "out_h": 91}
    for f in (0.6, 1.37):
        yield "brightness", {"factor": f}
    for f in (0.62, 1.4):
        yield "contrast", {"factor": f}
    for f in (0.6, 1.4):
        yield "saturation", {"factor": f}
    for f in (-0.1, 0.07, 0.0, -0.5, 0.5):
        yield "hue", {"factor": f}
    yield "grayscale", {}
    for s in (0.1, 0.7, 2.0):
        yield "blur", {"sigma": s}
    yield "hflip", {}
    yield "eval", {"resize": 256, "crop": 224}
    yield "jitter", {"order": [3, 0, 2, 1], "brightness": 1.2, "contrast": 0.7, "saturation": 1.3, "hue": -0.06}
    yield "jitter", {"order": [1, 2, 0, 3], "brightness": 0.65, "contrast": 1.35, "saturation": 0.6, "hue": 0.09}
    view = {"top": h // 6, "left": w // 5, "height": h // 2, "width": w // 2, "order": [2, 3, 1, 0],
            "brightness": 1.1, "contrast": 0.8, "saturation": 1.25, "hue": 0.04,
            "grayscale": True, "sigma": 1.3, "flip": True}
    yield "view", dict(view, recipe="mocov2")
    # MoCo v1 greys before it jitters (and never blurs); SimCLR and SwAV flip before the colour steps.
    yield "view", dict(view, recipe="mocov1", hue=-0.3, sigma=None)
    yield "view", dict(view, recipe="simclr", brightness=1.7, saturation=0.3, grayscale=False)
    yield "normalize", {}


def jitter(img, p):
    fns = {0: lambda im: F.adjust_brightness(im, p["brightness"]),
           1: lambda im: F.adjust_contrast(im, p["contrast"]),
           2: lambda im: F.adjust_saturation(im, p["saturation"]),
           3: lambda im: F.adjust_hue(im, p["hue"])}
    for i in p["order"]:
        img = fns[i](img)
    return img


def run(op, p, img):
    if op == "resized_crop":
        return F.resized_crop(img, p["top"], p["left"], p["height"], p["width"], [p["out_h"], p["out_w"]],
                              interpolation=T.InterpolationMode.BILINEAR)
    if op == "brightness":
        return F.adjust_brightness(img, p["factor"])
    if op == "contrast":
        return F.adjust_contrast(img, p["factor"])
    if op == "saturation":
        return F.adjust_saturation(img, p["factor"])
    if op == "hue":
        return F.adjust_hue(img, p["factor"])
    if op == "grayscale":
        return F.rgb_to_grayscale(img, num_output_channels=3)
    if op == "blur":  # MoCo-v2's GaussianBlur: PIL's filter with radius = sigma
        return img.filter(ImageFilter.GaussianBlur(radius=p["sigma"]))
    if op == "hflip":
        return F.hflip(img)
    if op == "eval":
        return T.Compose([T.Resize(p["resize"]), T.CenterCrop(p["crop"])])(img)
    if op == "jitter":
        return jitter(img, p)
    if op == "view":  # the recipe's Compose order (moco main_moco.py, simclr data_util, swav multicropdataset)
        def gray(im):
            return F.rgb_to_grayscale(im, num_output_channels=3) if p["grayscale"] else im

        def blur(im):
            return im if p["sigma"] is None else im.filter(ImageFilter.GaussianBlur(radius=p["sigma"]))

        def flip(im):
            return F.hflip(im) if p["flip"] else im

        steps = {"mocov1": [gray, lambda im: jitter(im, p), flip],
                 "mocov2": [lambda im: jitter(im, p), gray, blur, flip],
                 "simclr": [flip, lambda im: jitter(im, p), gray, blur]}[p["recipe"]]
        img = F.resized_crop(img, p["top"], p["left"], p["height"], p["width"], [224, 224])
        for step in steps:
            img = step(img)
        return img
    if op == "normalize":
        return T.Normalize(CLIP_MEAN, CLIP_STD)(T.ToTensor()(img))
    raise ValueError(op)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    manifest = []
    for name, arr in inputs():
        src = os.path.join(out, f"in_{name}.png")
        Image.fromarray(arr, "RGB").save(src)
        img = Image.open(src).convert("RGB")
        w, h = img.size
        for k, (op, p) in enumerate(cases(name, w, h)):
            res = run(op, p, img)
            if isinstance(res, torch.Tensor):
                dst = os.path.join(out, f"out_{name}_{k}_{op}.f32")
                res.numpy().astype("<f4").tofile(dst)
            else:
                assert res.mode == "RGB", (op, res.mode)
                dst = os.path.join(out, f"out_{name}_{k}_{op}.png")
                res.save(dst)
            manifest.append({"name": f"{name}/{k}/{op}", "input": src, "op": op, "params": p, "output": dst})
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(manifest, f)


if __name__ == "__main__":
    main()
