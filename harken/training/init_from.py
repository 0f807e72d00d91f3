"""Start training from another checkpoint's weights (NeMo's `init_from_nemo_model` / `init_from_pretrained_model`).

    init_from: stt_en_quartznet15x5            # a catalog name, .nemo path or URL
    init_from: {path: old.nemo, include: [encoder], exclude: [decoder]}
    init_from: {path: small.nemo, grow: true}  # a wider copy of the same architecture

A key is taken when it contains one of `include` (default: everything) and none of `exclude`, and
its shape fits; what was taken and skipped is reported, because a silent partial load is the worst
kind of fine-tuning bug.

`grow` trains a wider model without starting over (Net2Net-style): a tensor that is larger in some
dimensions gets the old one in its leading slice, and in weight matrices the entries from new input
channels to old output channels are zeroed. Old channels then see only old channels, and the CTC head
reads new channels with zero weight, so the grown model computes exactly what the small one did (batch
norm is per channel, so in training mode too) while its new channels start from fresh random weights.
Meant for ungrouped or depthwise convolutions and linear layers, i.e. the Jasper/QuartzNet family.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from harken.models.archive import read_archive
from harken.pretrained.catalog import resolve

log = logging.getLogger("harken.train")

CONFIG_KEYS = ("init_from", "init_from_nemo_model", "init_from_pretrained_model")


def init_spec(cfg: dict) -> dict | None:
    """The init section of a config (root or `model.`), normalised to {path, include, exclude}."""
    for where in (cfg, cfg.get("model") or {}):
        for key in CONFIG_KEYS:
            spec = where.get(key)
            if spec:
                if isinstance(spec, str):
                    return {"path": spec, "include": None, "exclude": [], "grow": False}
                if isinstance(spec, dict) and "path" not in spec and len(spec) == 1:  # NeMo's {model0: {...}}
                    spec = next(iter(spec.values()))
                if not isinstance(spec, dict) or not spec.get("path"):
                    raise ValueError(f"{key}: give a path/name, or a mapping with `path` (and include/exclude)")
                return {"path": spec["path"], "include": spec.get("include"), "exclude": spec.get("exclude") or [],
                        "grow": bool(spec.get("grow", False))}
    return None


def grown(small: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor | None:
    """`fresh` with `small` embedded as described above, or None when `small` does not fit inside it."""
    if small.dim() != fresh.dim() or any(s > f for s, f in zip(small.shape, fresh.shape)):
        return None
    out = fresh.clone()
    out[tuple(slice(0, s) for s in small.shape)] = small
    if out.dim() >= 2 and out.shape[1] > small.shape[1]:
        out[: small.shape[0], small.shape[1]:] = 0  # new inputs must not change old outputs
    return out


def initialize_from(model: nn.Module, path: str, include: list[str] | None = None,
                    exclude: list[str] | None = None, grow: bool = False) -> tuple[list[str], list[str]]:
    """Copy matching weights from `path` into `model`; returns (loaded keys, skipped keys)."""
    source = read_archive(resolve(path)).state_dict
    own = model.state_dict()
    loaded, skipped, widened = [], [], 0
    for key, value in source.items():
        wanted = (not include or any(p in key for p in include)) and not any(p in key for p in exclude or [])
        target = own.get(key) if wanted else None
        if target is not None and target.shape == value.shape:
            own[key] = value
        elif target is not None and grow and (bigger := grown(value, target)) is not None:
            own[key] = bigger
            widened += 1
        else:
            skipped.append(key)
            continue
        loaded.append(key)
    if not loaded:
        raise ValueError(f"init_from {path}: no weights matched the model (include={include}, exclude={exclude})")
    model.load_state_dict(own)
    log.warning("init_from %s: loaded %d tensors (%d of them grown), skipped %d%s", path, len(loaded), widened,
                len(skipped), f" (e.g. {', '.join(skipped[:3])})" if skipped else "")
    return loaded, skipped
