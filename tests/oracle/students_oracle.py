"""Oracle for the students: torchvision models with the LGD head in place of the classifier.

For each architecture writes, under OUT_DIR:
  <arch>.weights.safetensors   random weights (BN statistics randomised too) in torchvision naming
  <arch>.expected.safetensors  input batch, eval-mode output, train-mode output, and every BN buffer
                               after that train-mode forward (running stats, num_batches_tracked)
  <arch>.init_std.json         per-tensor std of a freshly initialised torchvision model
usage: students_oracle.py OUT_DIR EMBED_DIM
"""

import json
import sys
from pathlib import Path

import torch
import torchvision
from safetensors.torch import save_file

ARCHS = ["resnet18", "resnet34", "resnet50", "mobilenet_v2", "efficientnet_b0", "mobilenet_v3_large"]


def lgd_model(arch, embed_dim, **kwargs):
    """torchvision's model built for D outputs, its classifier wrapped as Linear(F,F) -> ReLU -> it,
    so the last layer keeps the architecture's own classifier initialisation (as SEED/LGD wrap it)."""
    model = getattr(torchvision.models, arch)(weights=None, num_classes=embed_dim, **kwargs)
    if arch.startswith("resnet"):
        features = model.fc.in_features
        model.fc = torch.nn.Sequential(torch.nn.Linear(features, features), torch.nn.ReLU(), model.fc)
        return model
    last = model.classifier[-1]
    features = {"mobilenet_v2": 1280, "efficientnet_b0": 1280, "mobilenet_v3_large": 960}[arch]
    if last.in_features != features:
        # MobileNetV3's classifier starts with Linear(960, 1280); the head replaces all of it, so its
        # last layer is a new Linear(960, D) initialised as MobileNetV3 initialises every Linear.
        last = torch.nn.Linear(features, embed_dim)
        torch.nn.init.normal_(last.weight, 0, 0.01)
        torch.nn.init.zeros_(last.bias)
    model.classifier = torch.nn.Sequential(torch.nn.Linear(features, features), torch.nn.ReLU(), last)
    return model


def main():
    out, embed_dim = Path(sys.argv[1]), int(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for index, arch in enumerate(ARCHS):
        torch.manual_seed(100 + index)
        # No stochastic depth: train-mode outputs must be deterministic to compare.
        kwargs = {"stochastic_depth_prob": 0.0} if arch.startswith("efficientnet") else {}
        model = lgd_model(arch, embed_dim, **kwargs)
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, torch.nn.BatchNorm2d):
                    module.weight.uniform_(0.5, 1.5)
                    module.bias.normal_(0.0, 0.1)
                    module.running_mean.normal_(0.0, 0.1)
                    module.running_var.uniform_(0.5, 1.5)
                    module.num_batches_tracked.fill_(7)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / f"{arch}.weights.safetensors"))

        x = torch.randn(4, 3, 64, 64)
        model.eval()
        with torch.no_grad():
            eval_out = model(x)
        model.train()
        with torch.no_grad():
            train_out = model(x)
        expected = {"input": x, "eval": eval_out, "train": train_out}
        for key, value in model.state_dict().items():
            if "running_" in key or "num_batches_tracked" in key:
                expected[f"after.{key}"] = value.contiguous()
        save_file(expected, str(out / f"{arch}.expected.safetensors"))

        torch.manual_seed(0)
        fresh = lgd_model(arch, embed_dim)
        stds = {k: float(v.float().std()) for k, v in fresh.state_dict().items() if v.is_floating_point() and v.numel() > 1}
        (out / f"{arch}.init_std.json").write_text(json.dumps(stds))


if __name__ == "__main__":
    main()
