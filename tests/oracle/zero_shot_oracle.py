"""Oracle for zero-shot logits: torchvision ResNet-18 with the LGD head, weights and inputs written by
the Rust test; logits = 100 · normalize(student(x)) · T in eval mode.

usage: zero_shot_oracle.py DIR   (DIR/inputs.safetensors: student.*, bank, images) -> DIR/expected.safetensors
"""

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import load_file, save_file


def main():
    d = Path(sys.argv[1])
    inputs = load_file(str(d / "inputs.safetensors"))
    bank, images = inputs["bank"], inputs["images"]
    model = torchvision.models.resnet18(weights=None, num_classes=bank.shape[0])
    model.fc = torch.nn.Sequential(torch.nn.Linear(512, 512), torch.nn.ReLU(), model.fc)
    model.load_state_dict({k[len("student."):]: v for k, v in inputs.items() if k.startswith("student.")})
    model.eval()
    with torch.no_grad():
        logits = 100.0 * (F.normalize(model(images), dim=1) @ bank)  # similarities first, then the scale
    save_file({"logits": logits.contiguous()}, str(d / "expected.safetensors"))


if __name__ == "__main__":
    main()
