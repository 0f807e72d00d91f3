"""Optimizers and learning-rate schedules named as in NeMo's `optim:` config section.

    optim: {name: novograd, lr: 0.01, betas: [0.8, 0.5], weight_decay: 0.001,
            sched: {name: CosineAnnealing, warmup_steps: 100, warmup_ratio: null, min_lr: 0.0}}
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.optim.lr_scheduler import LambdaLR


class Novograd(torch.optim.Optimizer):
    """Adam-like optimizer whose second moment is one scalar per tensor (Ginsburg et al., 2019).

    Normalising each layer's gradient by its own running norm makes training of deep
    convolutional CTC models stable at large learning rates, which is why Jasper/QuartzNet use it.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.95, 0.98),
                 eps: float = 1e-8, weight_decay: float = 0.0, grad_averaging: bool = False):
        if lr <= 0 or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1:
            raise ValueError(f"novograd: invalid lr={lr} or betas={betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      grad_averaging=grad_averaging))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("novograd does not support sparse gradients")
                state = self.state[p]
                grad = p.grad.float()
                norm_sq = grad.pow(2).sum()
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, dtype=torch.float32)
                    state["exp_avg_sq"] = norm_sq.clone()
                else:
                    state["exp_avg_sq"].mul_(beta2).add_(norm_sq, alpha=1 - beta2)
                state["step"] += 1
                grad = grad / (state["exp_avg_sq"].sqrt() + group["eps"])
                if group["weight_decay"]:
                    grad = grad.add(p.float(), alpha=group["weight_decay"])
                if group["grad_averaging"]:
                    grad = grad.mul(1 - beta1)
                state["exp_avg"].mul_(beta1).add_(grad)
                p.add_(state["exp_avg"].to(p.dtype), alpha=-group["lr"])
        return loss


def build_optimizer(params: Iterable, cfg: dict) -> torch.optim.Optimizer:
    name = str(cfg.get("name", "adamw")).lower()
    kw = {k: v for k, v in cfg.items() if k not in ("name", "sched")}
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    builders = {"novograd": Novograd, "adamw": torch.optim.AdamW, "adam": torch.optim.Adam,
                "sgd": torch.optim.SGD}
    if name not in builders:
        raise ValueError(f"optim.name={name!r}: use one of {sorted(builders)}")
    return builders[name](params, **kw)


def warmup_steps(sched: dict, total_steps: int) -> int:
    if sched.get("warmup_steps"):
        return int(sched["warmup_steps"])
    if sched.get("warmup_ratio"):
        return int(float(sched["warmup_ratio"]) * total_steps)
    return 0


def lr_factor(step: int, total_steps: int, warmup: int, name: str, min_ratio: float) -> float:
    """Multiplier of the base lr at optimizer step `step` (0-based)."""
    if warmup and step < warmup:
        return (step + 1) / (warmup + 1)
    if name in ("constantlr", "constant", "none"):
        return 1.0
    span = max(total_steps - warmup, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    if name == "cosineannealing":
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    if name == "polynomialdecayannealing":
        return min_ratio + (1 - min_ratio) * (1 - progress) ** 2
    raise ValueError(f"optim.sched.name={name!r}: use CosineAnnealing, PolynomialDecayAnnealing or ConstantLR")


def build_scheduler(optimizer: torch.optim.Optimizer, sched: dict | None, total_steps: int) -> LambdaLR | None:
    if not sched:
        return None
    name = str(sched.get("name", "CosineAnnealing")).lower()
    warm = warmup_steps(sched, total_steps)
    base = optimizer.param_groups[0]["lr"]
    min_ratio = float(sched.get("min_lr", 0.0) or 0.0) / base
    lr_factor(0, total_steps, warm, name, min_ratio)  # validate the name now, not at step 1
    return LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, warm, name, min_ratio))
