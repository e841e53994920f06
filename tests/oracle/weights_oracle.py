"""Writes one ResNet-18 LGD student state dict in every form users hand to `lgd`.

usage: weights_oracle.py OUT_DIR
"""

import sys
from pathlib import Path

import torch
import torchvision
from safetensors.torch import save_file


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=64)
    model.fc = torch.nn.Sequential(torch.nn.Linear(512, 512), torch.nn.ReLU(), model.fc)
    # Cloned: a state dict aliases the live parameters, which the optimiser step below changes.
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    save_file({k: v.contiguous() for k, v in sd.items()}, str(out / "reference.safetensors"))

    torch.save(sd, out / "plain.pth")
    torch.save({"state_dict": sd, "epoch": 3, "arch": "resnet18"}, out / "wrapped.pth.tar")
    torch.save({"model": sd, "step": 10}, out / "wrapped_model.pt")
    torch.save({f"module.{k}": v for k, v in sd.items()}, out / "ddp.pth")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    optimizer.step()
    sd_after = {k: v.clone() for k, v in model.state_dict().items()}
    save_file({k: v.contiguous() for k, v in sd_after.items()}, str(out / "reference_after.safetensors"))
    lgd = {f"module.student.{k}": v for k, v in sd_after.items()}
    lgd["module.teacher.conv1.weight"] = torch.randn(64, 3, 7, 7)
    lgd["module.queue"] = torch.randn(128, 16)
    torch.save({"epoch": 200, "arch": "resnet18", "state_dict": lgd, "optimizer": optimizer.state_dict()},
               out / "lgd_checkpoint.pth.tar")
    torch.save(sd, out / "legacy.pth", _use_new_zipfile_serialization=False)

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    views = {"transposed": base.t(), "rows": base[1:3], "half": base.half(), "long": torch.arange(5)}
    torch.save(views, out / "views.pth")
    torch.save(views, out / "views_legacy.pth", _use_new_zipfile_serialization=False)
    save_file({k: v.contiguous() for k, v in views.items()}, str(out / "views.safetensors"))


if __name__ == "__main__":
    main()
