"""Oracle for the LGD objective, written from the spec (DESIGN §1), not from any implementation.

Writes, per scenario, one safetensors file holding the shared random inputs and the expected
outputs of every step, computed in PyTorch float32 with the bank update in the original's per-class
loop form. The Rust test replays the inputs through `lgd` and compares.

usage: objective_oracle.py OUT_DIR
"""

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

TAU_S, TAU_T = 0.2, 0.01


def soft_ce(logits, targets):
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def objective(s_raw, t, T, V):
    """Loss parts, logits and targets for one step; the banks are the pre-update ones."""
    s = F.normalize(s_raw, dim=1)
    image_logits = torch.cat([(s * t).sum(dim=1, keepdim=True), s @ V], dim=1) / TAU_S
    text_logits = (s @ T) / TAU_S
    with torch.no_grad():
        image_targets = F.softmax(torch.cat([(t * t).sum(dim=1, keepdim=True), t @ V], dim=1) / TAU_T, dim=1)
        text_targets = F.softmax((t @ T) / TAU_T, dim=1)
    image_loss = soft_ce(image_logits, image_targets)
    text_loss = soft_ce(text_logits, text_targets)
    loss = 0.5 * image_loss + 0.5 * text_loss
    return loss, image_loss, text_loss, image_logits, image_targets, text_logits, text_targets


def lgka_update_loop(V, seen, keys, T, m):
    """The visual-bank update as the original writes it: one pass per class."""
    V, seen = V.clone(), seen.clone()
    labels = (keys @ T).argmax(dim=1)
    for c in range(T.shape[1]):
        mask = labels == c
        if mask.any():
            z = keys[mask].mean(dim=0)
            if seen[c]:
                V[:, c] = m * V[:, c] + (1 - m) * z
            else:
                V[:, c] = z
                seen[c] = True
    return V, seen, labels


def unit_columns(x):
    return F.normalize(x, dim=0)


def run(name, T, V0, teacher_raw, student_raw, m, out_dir):
    tensors = {"T": T.contiguous(), "V0": V0.contiguous(), "momentum": torch.tensor([m], dtype=torch.float64)}
    V, seen = V0.clone(), torch.zeros(T.shape[1], dtype=torch.bool)
    for k, (t_raw, s_raw) in enumerate(zip(teacher_raw, student_raw)):
        # Row-major, as the Rust side reads them from the file: reductions depend on memory layout.
        t_raw, s_raw = t_raw.contiguous(), s_raw.contiguous()
        t = F.normalize(t_raw, dim=1)
        s_raw = s_raw.clone().requires_grad_(True)
        loss, image_loss, text_loss, il, it, tl, tt = objective(s_raw, t, T, V)
        loss.backward()
        V, seen, labels = lgka_update_loop(V, seen, t, T, m)
        out = {
            "teacher_raw": t_raw, "student_raw": s_raw.detach(), "loss": loss.detach().reshape(1),
            "image_loss": image_loss.detach().reshape(1), "text_loss": text_loss.detach().reshape(1),
            "image_logits": il.detach(), "image_targets": it, "text_logits": tl.detach(), "text_targets": tt,
            "grad_student_raw": s_raw.grad, "labels": labels, "V": V, "seen": seen,
        }
        tensors.update({f"step{k}.{key}": value.contiguous() for key, value in out.items()})
    save_file(tensors, str(out_dir / f"{name}.safetensors"), metadata={"steps": str(len(teacher_raw))})
    return seen


def main():
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    # Main scenario: B=64, C=1000, D=1024, 10 steps. Half of each batch comes from 40 "popular"
    # classes (keys near their text columns) so that classes are revisited and the momentum path runs.
    B, C, D, steps = 64, 1000, 1024, 10
    T = unit_columns(torch.randn(D, C))
    V0 = unit_columns(torch.randn(D, C))
    popular = torch.randperm(C)[:40]
    teacher, student = [], []
    for _ in range(steps):
        near = T[:, popular[torch.randint(0, 40, (B // 2,))]].T + 0.05 * torch.randn(B // 2, D)
        teacher.append(torch.cat([near, torch.randn(B - B // 2, D)]))
        student.append(torch.randn(B, D))
    seen = run("main", T, V0, teacher, student, 0.999, out_dir)
    assert 40 <= int(seen.sum()) < C, "the main scenario must leave classes both seen and unseen"

    # Edge case: B=4, C=7. Step 0: keys to classes 2, 2, 5, 0 (class 5 assigned once, 1/3/4/6 never).
    # Step 1: keys to 2, 6, 6, 0 (revisits blend; class 6 first seen).
    B, C, D = 4, 7, 16
    T = unit_columns(torch.randn(D, C))
    V0 = unit_columns(torch.randn(D, C))
    plan = [[2, 2, 5, 0], [2, 6, 6, 0]]
    teacher = [T[:, p].T + 0.01 * torch.randn(B, D) for p in plan]
    student = [torch.randn(B, D) for _ in plan]
    for p, t in zip(plan, teacher):
        assert (F.normalize(t, dim=1) @ T).argmax(dim=1).tolist() == p
    seen = run("edge", T, V0, teacher, student, 0.9, out_dir)
    assert seen.tolist() == [True, False, True, False, False, True, True]


if __name__ == "__main__":
    main()
