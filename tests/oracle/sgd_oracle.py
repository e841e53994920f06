"""Oracle for `lgd`'s SGD: torch.optim.SGD over a few steps with gradients given per step (the
gradient of sum(p * G) is G), a changing learning rate, weight decay and momentum.

usage: sgd_oracle.py OUT_DIR   -> OUT_DIR/sgd.safetensors
"""

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

LRS = [0.1, 0.24, 0.2, 0.05, 0.01]


def main():
    out = Path(sys.argv[1])
    torch.manual_seed(0)
    tensors = {"lrs": torch.tensor(LRS, dtype=torch.float64)}
    init = {"a": torch.randn(8, 3), "b": torch.randn(5)}
    grads = [{k: torch.randn_like(v) for k, v in init.items()} for _ in LRS]
    for k, v in init.items():
        tensors[f"init.{k}"] = v
        for s, g in enumerate(grads):
            tensors[f"grad{s}.{k}"] = g[k]
    for nesterov in [False, True]:
        params = {k: torch.nn.Parameter(v.clone()) for k, v in init.items()}
        opt = torch.optim.SGD(params.values(), lr=LRS[0], momentum=0.9, weight_decay=1e-4, nesterov=nesterov)
        for s, lr in enumerate(LRS):
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad()
            sum((params[k] * grads[s][k]).sum() for k in params).backward()
            opt.step()
        for k, p in params.items():
            tensors[f"final.{'nesterov' if nesterov else 'plain'}.{k}"] = p.detach().clone()
            tensors[f"momentum.{'nesterov' if nesterov else 'plain'}.{k}"] = opt.state[p]["momentum_buffer"].clone()
    save_file(tensors, str(out / "sgd.safetensors"))


if __name__ == "__main__":
    main()
