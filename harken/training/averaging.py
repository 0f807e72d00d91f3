"""Average the weights of several checkpoints of one run into one model (icefall's `--avg`, NeMo's
checkpoint-averaging script).

Why: checkpoints a few thousand steps apart late in a cosine schedule sit on different sides of the same
valley, and their mean often scores better than any one of them. Floating-point tensors, batch-norm
statistics included, are averaged in float64; integer ones (batches tracked) are taken from the last file.
Only models of one architecture and vocabulary can be averaged; anything else is refused by name.

With `weights` it is an interpolation: a model fine-tuned from another and mixed back with it (WiSE-FT, Wortsman
et al. 2022) keeps more of what the first knew while holding much of what the fine-tuning added.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from harken.models.loading import load_model


def architecture(model: nn.Module) -> dict:
    """What must agree for a mean of weights to mean anything: the class, the network, the output symbols.
    Equal here means equal tensor names and shapes too (`load_model` has checked each file against its config)."""
    cfg = getattr(model, "cfg", {}) or {}
    return {"class": type(model).__name__,
            **{key: cfg.get(key) for key in ("preprocessor", "encoder", "decoder", "labels")}}


def average_models(paths: Sequence[str | Path], weights: Sequence[float] | None = None) -> nn.Module:
    """The first checkpoint's model carrying the mean of all the checkpoints' weights (`.ckpt` or `.nemo`),
    or their weighted mean with `weights` (one per path, non-negative, scaled to sum to 1)."""
    if not paths:
        raise ValueError("average: give at least one checkpoint")
    share = mixing_shares(len(paths), weights)
    model = load_model(paths[0])
    states = [model.state_dict()]
    for path in paths[1:]:
        other = load_model(path)
        if architecture(other) != architecture(model):
            raise ValueError(f"average: {path} is not the same model as {paths[0]}: their configs (front end, "
                             "encoder, decoder or vocabulary) differ")
        states.append(other.state_dict())
    model.load_state_dict(mixed_state(states, share))
    return model


def mixed_state(states: Sequence[dict], share: Sequence[float]) -> dict:
    """sum(share[i] * states[i]) for floating-point tensors (in float64, stored back in their own dtype); integer
    ones (batches tracked) from the last state. The states must have the same keys and shapes."""
    first = states[0]
    total = {key: value.double() * share[0] if value.is_floating_point() else value.clone()
             for key, value in first.items()}
    for state, part in zip(states[1:], share[1:]):
        for key, value in state.items():
            total[key] = total[key] + value.double() * part if value.is_floating_point() else value.clone()
    return {key: value.to(first[key].dtype) if first[key].is_floating_point() else value
            for key, value in total.items()}


def mixing_shares(count: int, weights: Sequence[float] | None) -> list[float]:
    """Equal shares, or `weights` scaled to sum to 1 (refused, with the reason, when they cannot be)."""
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise ValueError(f"average: {len(weights)} weights for {count} checkpoints; give one weight per checkpoint")
    if any(not w >= 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"average: weights must be non-negative with a positive sum, got {list(weights)}")
    return [w / sum(weights) for w in weights]
