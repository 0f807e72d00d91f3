"""A context for running a model in evaluation without changing it: NeMo's transcribe() leaves modules in
train mode behind it (its note 1); harken restores every submodule's own mode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def inference_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd for the duration, then every submodule's mode exactly as it was."""
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        for m, training in modes.items():
            m.training = training
