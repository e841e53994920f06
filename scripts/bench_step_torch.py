"""The PyTorch twin of `lgd bench step`: one LGD training step in eager PyTorch, written from
DESIGN.md §1, on the same shapes and the same synthetic input (random normalised images made once
on the device; no data pipeline).

  teacher  open_clip's ModifiedResNet (CLIP RN50's image tower, or the tiny test tower), random
           weights, frozen, eval mode; t = normalise(teacher(x)) in fp32.
  student  torchvision resnet18, fc replaced by the LGD head Linear(F,F) -> ReLU -> Linear(F,D);
           s = normalise(student(x)) in fp32.
  banks    T [D, C] fixed (random unit columns); V [D, C] random unit columns with `seen` flags,
           updated after the step (LGKA): keys assigned to argmax_c t.T, class means z_c,
           V[:,c] <- m V[:,c] + (1-m) z_c once seen, z_c the first time; m = 0.999.
  loss     image bank: [s.t | s.V]/0.2 against softmax([t.t | t.V]/0.01);
           text bank: s.T/0.2 against softmax(t.T/0.01); L = (H_img + H_text)/2.
  SGD      momentum 0.9, weight decay 1e-4, lr 0.03 * batch/256 (held constant: the schedule is a
           host-side scalar and costs nothing on the device).

Two configurations:
  original  fp16 autocast + GradScaler, NCHW, the bank update as a Python loop over all C classes
            (one host synchronisation per class), as the original code does.
  best      bf16 autocast, channels_last (inputs, teacher, student), the bank update vectorised
            (two index_adds and two selects, no host synchronisation), SGD as torch's fused kernel
            (`fused=True`, as lgd's).
cudnn autotuning is on in both (fixed shapes). Timing: warm-up steps, torch.cuda.synchronize, the
timed steps, torch.cuda.synchronize.

fp16 autocast with a GradScaler needs CUDA: on the CPU `--config original` stops with an error
unless `--precision fp32|bf16` is given, which then replaces fp16 (and drops the scaler), said in the
output. Nothing falls back silently.

usage: bench_step_torch.py --config original|best [--device cpu|cuda[:N]] [--batch 256] [--steps 50]
       [--warmup 10] [--teacher clip-rn50|tiny] [--classes 1000] [--precision fp32|bf16|fp16] [--json]
"""

import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
import torchvision
from open_clip.modified_resnet import ModifiedResNet

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# (stage depths, stem width, input side, D): OpenAI's RN50 and the tests' tiny tower.
TEACHERS = {"clip-rn50": ((3, 4, 6, 3), 64, 224, 1024), "tiny": ((1, 1, 1, 1), 16, 64, 32)}
STUDENT_TEMPERATURE, TEACHER_TEMPERATURE, MOMENTUM = 0.2, 0.01, 0.999
CONFIGS = {
    "original": {"precision": "fp16", "channels_last": False, "vectorised_bank": False, "fused_sgd": False},
    "best": {"precision": "bf16", "channels_last": True, "vectorised_bank": True, "fused_sgd": True},
}
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def add_step_arguments(parser, device, steps, warmup):
    """The options that say which step to run and how long to time it, with these defaults."""
    parser.add_argument("--config", choices=CONFIGS, required=True)
    parser.add_argument("--device", default=device)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--teacher", choices=TEACHERS, default="clip-rn50")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"],
                        help="replace the configuration's autocast dtype (reported in the output)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_step_arguments(parser, device="cpu", steps=50, warmup=10)
    args = parser.parse_args()
    if args.batch < 1 or args.steps < 1 or args.warmup < 0:
        parser.error("--batch and --steps must be >= 1, --warmup >= 0")
    return args


def unit_columns(dim, classes, device):
    """[D, C], each column a random unit vector."""
    return F.normalize(torch.randn(classes, dim, device=device), dim=1).t().contiguous()


def lgd_head_student(embed_dim):
    """torchvision resnet18 whose fc is Linear(F,F) -> ReLU -> Linear(F,D) (src/models/student/head.rs)."""
    net = torchvision.models.resnet18()
    features = net.fc.in_features
    net.fc = torch.nn.Sequential(torch.nn.Linear(features, features), torch.nn.ReLU(inplace=True),
                                 torch.nn.Linear(features, embed_dim))
    return net


def soft_cross_entropy(logits, targets):
    return -(targets * logits.log_softmax(1)).sum(1).mean()


def lgd_loss(s, t, text_bank, visual_bank):
    """Both logit sets and L = (H_img + H_text)/2; s, t fp32 unit rows [B, D]; banks [D, C]."""
    image_logits = torch.cat([(s * t).sum(1, keepdim=True), s @ visual_bank], 1) / STUDENT_TEMPERATURE
    text_logits = s @ text_bank / STUDENT_TEMPERATURE
    with torch.no_grad():
        image_targets = (torch.cat([(t * t).sum(1, keepdim=True), t @ visual_bank], 1) / TEACHER_TEMPERATURE).softmax(1)
        text_targets = (t @ text_bank / TEACHER_TEMPERATURE).softmax(1)
    return 0.5 * (soft_cross_entropy(image_logits, image_targets) + soft_cross_entropy(text_logits, text_targets))


@torch.no_grad()
def update_bank_loop(visual_bank, seen, keys, text_bank):
    """The original's LGKA update: every class in turn, one host synchronisation (`.any()`) each."""
    labels = (keys @ text_bank).argmax(1)
    for c in range(visual_bank.shape[1]):
        mask = labels == c
        if mask.any():
            z = keys[mask].mean(0)
            if seen[c]:
                visual_bank[:, c] = MOMENTUM * visual_bank[:, c] + (1 - MOMENTUM) * z
            else:
                visual_bank[:, c] = z
                seen[c] = True


@torch.no_grad()
def update_bank_vectorised(visual_bank, seen, keys, text_bank):
    """The same numbers without host synchronisation: counts and sums by index_add (CUDA's
    bincount reads the labels' min and max back to the host), two selects."""
    dim, classes = visual_bank.shape
    labels = (keys @ text_bank).argmax(1)
    counts = torch.zeros(classes, device=keys.device).index_add_(0, labels, torch.ones_like(labels, dtype=torch.float32))
    sums = torch.zeros(classes, dim, device=keys.device).index_add_(0, labels, keys)
    present = counts > 0
    means = (sums / counts.clamp_min(1).unsqueeze(1)).t()
    moved = torch.where(seen, MOMENTUM * visual_bank + (1 - MOMENTUM) * means, means)
    visual_bank.copy_(torch.where(present, moved, visual_bank))
    seen |= present


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class LgdStep:
    """One configuration's teacher, student, optimiser and banks on a device; `step(images)` trains
    on one normalised batch [B, 3, side, side]. Shared with bench_end_to_end_torch.py, which feeds
    it from a DataLoader. Raises ValueError for a precision the device cannot run."""

    def __init__(self, config_name, device, batch, teacher="clip-rn50", classes=1000, precision=None, seed=0):
        config = dict(CONFIGS[config_name])
        self.notes = []
        if precision is not None and precision != config["precision"]:
            self.notes.append(f"precision {config['precision']} replaced by {precision} (--precision)")
            config["precision"] = precision
        if config["precision"] == "fp16" and device.type != "cuda":
            raise ValueError(f"--config {config_name} uses fp16 autocast with a GradScaler, which needs a CUDA device; "
                             f"on {device} pass --precision fp32 (or bf16) to run it with that dtype instead")
        self.config, self.precision, self.device, self.classes = config, config["precision"], device, classes
        torch.manual_seed(seed)
        torch.backends.cudnn.benchmark = True
        layers, width, self.side, self.embed_dim = TEACHERS[teacher]
        self.memory_format = torch.channels_last if config["channels_last"] else torch.contiguous_format
        tower = ModifiedResNet(list(layers), self.embed_dim, heads=width * 32 // 64, image_size=self.side, width=width)
        self.teacher = tower.to(device).eval().requires_grad_(False).to(memory_format=self.memory_format)
        self.student = lgd_head_student(self.embed_dim).to(device).train().to(memory_format=self.memory_format)
        self.optimizer = torch.optim.SGD(self.student.parameters(), lr=0.03 * batch / 256, momentum=0.9,
                                         weight_decay=1e-4, fused=config["fused_sgd"] or None)
        self.use_scaler = self.precision == "fp16"
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.use_scaler)
        self.autocast_dtype = DTYPES.get(self.precision)
        self.text_bank = unit_columns(self.embed_dim, classes, device)  # T [D, C], fixed
        self.visual_bank = unit_columns(self.embed_dim, classes, device)  # V [D, C]
        if config["vectorised_bank"]:
            self.seen, self.update_bank = torch.zeros(classes, dtype=torch.bool, device=device), update_bank_vectorised
        else:
            self.seen, self.update_bank = [False] * classes, update_bank_loop  # the original keeps the flags on the host

    def step(self, images):
        """One training step; returns the loss as a device tensor (no host synchronisation here)."""
        autocast = torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None)
        with autocast:
            with torch.no_grad():
                t = F.normalize(self.teacher(images).float(), dim=1)
            s = F.normalize(self.student(images).float(), dim=1)
        loss = lgd_loss(s, t, self.text_bank, self.visual_bank)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.update_bank(self.visual_bank, self.seen, t, self.text_bank)  # after the step: the loss used the bank before
        return loss

    def configuration(self):
        """The fields of a report that say what this step computes."""
        return {"precision": self.precision, "channels_last": self.config["channels_last"],
                "vectorised_bank": self.config["vectorised_bank"], "fused_sgd": self.config["fused_sgd"],
                "grad_scaler": self.use_scaler, "cudnn_benchmark": True, "image_size": self.side,
                "embed_dim": self.embed_dim, "classes": self.classes, "notes": self.notes}

    def scale(self):
        return self.scaler.get_scale() if self.use_scaler else None

    def skipped_since(self, scale_before, steps):
        """Steps the scaler skipped since `scale()` read `scale_before`: each halves the scale and
        none grows it within 2000 steps, so this needs no synchronisation per step."""
        return round(math.log2(scale_before / self.scaler.get_scale())) if self.use_scaler and steps < 2000 else 0


def step_from_args(args, program):
    """The LgdStep a command line asks for (--config, --device, --batch, --teacher, --classes,
    --precision, --seed); stops with the reason where it cannot run, prints its notes."""
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(f"--device {args.device}: this PyTorch sees no CUDA device")
    try:
        lgd = LgdStep(args.config, device, args.batch, args.teacher, args.classes, args.precision, args.seed)
    except ValueError as refusal:
        sys.exit(str(refusal))
    for note in lgd.notes:
        print(f"{program}: note: {note}", file=sys.stderr)
    return lgd


def main():
    args = parse_args()
    lgd = step_from_args(args, "bench_step_torch")
    device = lgd.device
    mean = torch.tensor(CLIP_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=device).view(1, 3, 1, 1)
    side = lgd.side
    images = ((torch.rand(args.batch, 3, side, side, device=device) - mean) / std).contiguous(memory_format=lgd.memory_format)

    for _ in range(args.warmup):
        lgd.step(images)
    synchronize(device)
    scale_before = lgd.scale()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = lgd.step(images)
    synchronize(device)
    seconds = time.perf_counter() - start
    skipped = lgd.skipped_since(scale_before, args.steps)
    config, precision = lgd.config, lgd.precision
    report = {
        "side": f"torch-{args.config}", "device": str(device), "teacher": args.teacher, "student": "resnet18",
        "batch": args.batch, "steps": args.steps, "warmup": args.warmup, **lgd.configuration(),
        "skipped_steps": skipped, "final_loss": loss.item(), "seconds": seconds,
        "images_per_second": args.batch * args.steps / seconds, "ms_per_step": seconds * 1e3 / args.steps,
        "torch": torch.__version__,
    }
    if not math.isfinite(report["final_loss"]):
        sys.exit(f"the last timed step's loss is {report['final_loss']}: the figure would not measure whole steps")
    if args.json:
        print(json.dumps(report))
    else:
        print(f"bench_step_torch --config {args.config}: {device} teacher {args.teacher} (D={lgd.embed_dim}, {side} px), "
              f"student resnet18, {args.classes} classes, batch {args.batch}, {precision}"
              f"{' channels_last' if config['channels_last'] else ''}, "
              f"{'vectorised' if config['vectorised_bank'] else 'per-class loop'} bank update, "
              f"{args.steps} steps after {args.warmup} warm-up")
        print(f"{report['images_per_second']:.1f} img/s, {report['ms_per_step']:.2f} ms/step "
              f"(final loss {report['final_loss']:.4f}, {skipped} skipped by the scaler)")


if __name__ == "__main__":
    main()
