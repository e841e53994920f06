"""mmdetection 3.x / mmsegmentation 1.x load what `lgd export` writes, with their own backbone classes.

usage:
  export_mmlab_oracle.py source DIR ARCH...
      DIR/ARCH-source.pth for each ARCH: a torchvision ARCH whose BatchNorms carry random affine parameters and running statistics
      from a few train-mode passes (so a wrong mapping cannot hide behind near-identity BNs),
      saved as a plain state dict: an input for `lgd export`
  export_mmlab_oracle.py check CASES.json REPORT.json
      CASES.json: [{"reference": …, "arch": …, "mmdet": …, "mmseg": …}], one report entry each.
      The reference is a torchvision state dict (torch.load(weights_only=True), strict load with the
      classifier replaced by Identity). Each mm file is loaded twice: the way a config does
      (`init_cfg=dict(type='Pretrained', checkpoint=…)` then `init_weights()`) and with mmengine's
      `load_checkpoint(strict=True)`; every stage the backbone returns is compared with the
      torchvision stage it mirrors. Then two same-shaped tensors of neighbouring blocks are swapped
      in the mm state dict and the comparison is repeated: it must fail, or the check proves nothing.
"""

import json
import sys

import torch
import torchvision

import mmlab_on_cpu  # noqa: F401  (before mmdet/mmseg: see its docstring)
from mmdet.models.backbones import MobileNetV2 as DetMobileNetV2
from mmdet.models.backbones import ResNet as DetResNet
from mmengine.runner.checkpoint import load_checkpoint
from mmseg.models.backbones import MobileNetV2 as SegMobileNetV2
from mmseg.models.backbones import ResNet as SegResNet

DEPTHS = {"resnet18": 18, "resnet34": 34, "resnet50": 50}
# torchvision `features` index that ends mmlab's layer1..7 and conv2.
MNV2_STAGE_ENDS = [1, 3, 6, 10, 13, 16, 17, 18]
# Same-shaped neighbours whose swap a correct check must notice.
SWAPS = {
    "resnet": ("layer1.0.bn1.running_var", "layer1.1.bn1.running_var"),
    "mmdet-mnv2": ("layer3.1.expand_conv.bn.running_var", "layer3.2.expand_conv.bn.running_var"),
    "mmseg-mnv2": ("layer3.1.conv.0.bn.running_var", "layer3.2.conv.0.bn.running_var"),
}


def torchvision_model(arch):
    model = getattr(torchvision.models, arch)(weights=None)
    if arch in DEPTHS:
        model.fc = torch.nn.Identity()
    else:
        model.classifier = torch.nn.Identity()
    return model


def source(out, arch):
    torch.manual_seed(7)
    model = torchvision_model(arch)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.5, 0.5)
            module.momentum = 0.5
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 3, 64, 64))
    torch.save(model.state_dict(), out)


def torchvision_stages(model, arch, x):
    """The outputs mmlab's backbones return, computed by torchvision's modules."""
    if arch in DEPTHS:
        x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        stages = []
        for layer in [model.layer1, model.layer2, model.layer3, model.layer4]:
            x = layer(x)
            stages.append(x)
        return stages
    stages, start = [], 0
    for end in MNV2_STAGE_ENDS:
        for index in range(start, end + 1):
            x = model.features[index](x)
        stages.append(x)
        start = end + 1
    return stages


def mm_backbones(arch, library, checkpoint):
    """The backbone as a config builds it, with every stage returned."""
    init = dict(type="Pretrained", checkpoint=checkpoint)
    if arch in DEPTHS:
        cls = DetResNet if library == "mmdet" else SegResNet
        return cls(depth=DEPTHS[arch], out_indices=(0, 1, 2, 3), init_cfg=init)
    if library == "mmdet":
        return DetMobileNetV2(out_indices=tuple(range(8)), init_cfg=init)
    return SegMobileNetV2(out_indices=tuple(range(7)), init_cfg=init)


def max_stage_diff(backbone, reference, x):
    backbone.eval()
    with torch.no_grad():
        outputs = backbone(x)
    assert len(outputs) <= len(reference)
    for out, ref in zip(outputs, reference):
        assert out.shape == ref.shape, (out.shape, ref.shape)
    return len(outputs), max(float((o - r).abs().max()) for o, r in zip(outputs, reference))


def check(reference_file, arch, files):
    model = torchvision_model(arch)
    model.load_state_dict(torch.load(reference_file, weights_only=True), strict=True)
    model.eval()
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference = torchvision_stages(model, arch, x)
    report = {"arch": arch, "mmcv_installed": mmlab_on_cpu.MMCV_VERSION_SEEN}
    for library, file in files.items():
        configured = mm_backbones(arch, library, file)
        configured.init_weights()
        stages, diff = max_stage_diff(configured, reference, x)

        strict = mm_backbones(arch, library, None)
        load_checkpoint(strict, file, map_location="cpu", strict=True)
        _, strict_diff = max_stage_diff(strict, reference, x)

        state = torch.load(file, weights_only=True)["state_dict"]
        a, b = SWAPS["resnet" if arch in DEPTHS else f"{library}-mnv2"]
        state[a], state[b] = state[b], state[a]
        strict.load_state_dict(state, strict=True)
        _, swapped_diff = max_stage_diff(strict, reference, x)
        report[library] = {
            "stages": stages,
            "max_diff_init_cfg": diff,
            "max_diff_strict": strict_diff,
            "max_diff_with_swapped_tensors": swapped_diff,
            "keys": len(state),
        }
    return report


def main():
    if sys.argv[1] == "source":
        for arch in sys.argv[3:]:
            source(f"{sys.argv[2]}/{arch}-source.pth", arch)
        return
    with open(sys.argv[2]) as f:
        cases = json.load(f)
    report = [
        check(case["reference"], case["arch"], {"mmdet": case["mmdet"], "mmseg": case["mmseg"]})
        for case in cases
    ]
    with open(sys.argv[3], "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
