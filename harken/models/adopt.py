"""Loading a model from an archive without holding its weights twice.

Building a model fills every parameter with random numbers that loading then overwrites, and a plain
`load_state_dict` copies the archive's tensors into them: for a 0.6B-parameter model that is 3 s of random
initialisation and a peak of two copies of the weights (5 GB). `skipped_init` builds the modules with
`torch.nn.init` switched off (their tensors stay unwritten, so untouched memory), and `adopt` makes the loaded
tensors the model's own storage, so the random ones are freed before they were ever written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

_INIT = [name for name in dir(nn.init) if name.endswith("_") and not name.startswith("_")
         and callable(getattr(nn.init, name))]


@contextlib.contextmanager
def skipped_init() -> Iterator[None]:
    """Inside: `torch.nn.init`'s in-place initialisers (what modules' `reset_parameters` call) do nothing, so
    new parameters hold whatever memory they got. Only for models whose every tensor is loaded right after
    (`load_checked` refuses an archive that misses one). Process-wide while it lasts: another thread building
    modules at the same moment would get unwritten tensors too."""
    saved = {name: getattr(nn.init, name) for name in _INIT}
    try:
        for name in _INIT:
            setattr(nn.init, name, _unchanged)
        yield
    finally:
        for name, fn in saved.items():
            setattr(nn.init, name, fn)


def _unchanged(tensor, *args, **kwargs):
    return tensor


def adopt(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Make each tensor of `state` the storage of the model's parameter or buffer of the same name, when dtype
    and shape agree (others are left to `load_state_dict` to copy, e.g. float16 weights of a half archive).
    Parameter objects stay the same, so tied parameters stay tied and requires_grad is kept. The model then
    shares memory with `state`: use it only on tensors nothing else holds (a freshly read archive)."""
    with torch.no_grad():
        for key, target in model.state_dict(keep_vars=True).items():
            source = state.get(key)
            if (isinstance(source, torch.Tensor) and source.dtype == target.dtype and source.shape == target.shape
                    and source.device == target.device and source.layout == target.layout):
                target.data = source
