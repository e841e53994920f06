"""Loads files written by `lgd export --format torchvision|safetensors` the way users do, and
reports what it found.

usage: export_oracle.py CASES.json REPORT.json
  CASES.json: [{"file": …, "arch": …, "input": …}] where input is a safetensors file with "x"
  (images [B, 3, H, W]) and "features" (lgd's pooled backbone features of x, [B, F]).
  Each file is read with torch.load(weights_only=True) (safetensors.torch.load_file for .safetensors),
  `lgd_head.*` keys are set aside, and the rest is loaded with strict=True into
  torchvision.models.ARCH whose classifier is replaced by Identity — the one-line load the docs show.
  The features of x in eval mode are compared with lgd's.
"""

import json
import sys

import torch
import torchvision
from safetensors.torch import load_file


def load(path):
    if path.endswith(".safetensors"):
        return load_file(path)
    return torch.load(path, weights_only=True)


def check(case):
    arch = case["arch"]
    state = load(case["file"])
    head = {k: v for k, v in state.items() if k.startswith("lgd_head.")}
    backbone = {k: v for k, v in state.items() if not k.startswith("lgd_head.")}
    model = getattr(torchvision.models, arch)(weights=None)
    if arch.startswith("resnet"):
        model.fc = torch.nn.Identity()
    else:
        model.classifier = torch.nn.Identity()
    model.load_state_dict(backbone, strict=True)
    model.eval()
    data = load_file(case["input"])
    with torch.no_grad():
        features = model(data["x"])
    return {
        "file": case["file"],
        "arch": arch,
        "keys": len(state),
        "head_keys": sorted(head),
        "head_shapes": {k: list(v.shape) for k, v in head.items()},
        "max_feature_diff": float((features - data["features"]).abs().max()),
        "feature_spread": float(data["features"].std()),
    }


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    report = [check(case) for case in cases]
    with open(sys.argv[2], "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
