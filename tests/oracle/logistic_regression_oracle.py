"""Oracle for the L-BFGS linear probe: the same objective — mean cross-entropy + (λ/2)·‖W‖² on
standardised features, bias unpenalised — minimised in float64 by PyTorch's own L-BFGS with a
strong-Wolfe line search. The problem is strictly convex, so both optimisers must reach one optimum.

usage: logistic_regression_oracle.py DIR   (DIR/inputs.safetensors: features [N, F], labels [N],
       penalty [1], classes [1]) -> DIR/expected.safetensors (weight [F, C], bias [C], objective [1])
"""

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file


def main():
    d = Path(sys.argv[1])
    inputs = load_file(str(d / "inputs.safetensors"))
    x = inputs["features"].double()
    labels = inputs["labels"]
    penalty = inputs["penalty"].item()
    classes = int(inputs["classes"].item())
    std = x.std(0, unbiased=False, keepdim=True)
    x = (x - x.mean(0, keepdim=True)) / torch.where(std > 1e-12, std, torch.ones_like(std))
    weight = torch.zeros(x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=5000, tolerance_grad=1e-12,
                                  tolerance_change=1e-16, history_size=20, line_search_fn="strong_wolfe")

    def objective():
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight + bias, labels) + 0.5 * penalty * (weight * weight).sum()
        loss.backward()
        return loss

    optimizer.step(objective)
    with torch.no_grad():
        final = F.cross_entropy(x @ weight + bias, labels) + 0.5 * penalty * (weight * weight).sum()
    save_file({"weight": weight.detach().contiguous(), "bias": bias.detach().contiguous(),
               "objective": final.reshape(1)}, str(d / "expected.safetensors"))


if __name__ == "__main__":
    main()
