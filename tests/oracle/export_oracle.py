"""Loads files written by `lgd export` the way users do, and reports what it found.

usage: export_oracle.py DIR ARCH
  DIR/torchvision.pth  -> torch.load(weights_only=True), head keys set aside, loaded with strict=True
                          into torchvision.models.ARCH with an Identity classifier; features of
                          DIR/input.safetensors["x"] in eval mode compared with ["features"]
  DIR/mmdet.pth, DIR/mmseg.pth (MobileNetV2 only) -> key lists and shapes
writes DIR/report.json
"""

import json
import sys
from pathlib import Path

import torch
import torchvision
from safetensors.torch import load_file


def main():
    d, arch = Path(sys.argv[1]), sys.argv[2]
    sd = torch.load(d / "torchvision.pth", weights_only=True)
    head = "fc." if arch.startswith("resnet") else "classifier."
    backbone = {k: v for k, v in sd.items() if not k.startswith(head)}
    model = getattr(torchvision.models, arch)(weights=None)
    if arch.startswith("resnet"):
        model.fc = torch.nn.Identity()
    else:
        model.classifier = torch.nn.Identity()
    model.load_state_dict(backbone, strict=True)
    model.eval()
    data = load_file(str(d / "input.safetensors"))
    with torch.no_grad():
        features = model(data["x"])
    report = {
        "head_keys": sorted(k for k in sd if k.startswith(head)),
        "max_feature_diff": float((features - data["features"]).abs().max()),
        "backbone_keys": len(backbone),
    }
    for name in ["mmdet", "mmseg"]:
        path = d / f"{name}.pth"
        if path.exists():
            loaded = torch.load(path, weights_only=True)
            report[name] = {k: list(v.shape) for k, v in loaded["state_dict"].items()}
    (d / "report.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
