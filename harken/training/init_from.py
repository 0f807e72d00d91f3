"""Start training from another checkpoint's weights (NeMo's `init_from_nemo_model` / `init_from_pretrained_model`).

    init_from: stt_en_quartznet15x5            # a catalog name, .nemo path or URL
    init_from: {path: old.nemo, include: [encoder], exclude: [decoder]}
    init_from: {path: small.nemo, grow: true}  # a wider copy of the same architecture
    init_from: {path: small.nemo, insert_blocks: [5]}  # a deeper copy: encoder block 5 is new
    init_from: {path: ctc.nemo, rename: {decoder.decoder_layers: ctc_decoder.decoder_layers}}  # CTC -> hybrid

A key is taken when it contains one of `include` (default: everything) and none of `exclude`, and
its shape fits; what was taken and skipped is reported, because a silent partial load is the worst
kind of fine-tuning bug. `rename` maps a part of the checkpoint's names to another before matching (a CTC
model's head is `decoder.`, a hybrid's CTC head is `ctc_decoder.`: its `decoder.` is the prediction net).

`grow` trains a wider model without starting over (Net2Net-style): a tensor that is larger in some
dimensions gets the old one in its leading slice, and in weight matrices the entries from new input
channels to old output channels are zeroed. Old channels then see only old channels, and the CTC head
reads new channels with zero weight, so the grown model computes exactly what the small one did (batch
norm is per channel, so in training mode too) while its new channels start from fresh random weights.
Meant for ungrouped or depthwise convolutions and linear layers, i.e. the Jasper/QuartzNet family.

`insert_blocks` trains a deeper model without starting over: the listed indices of the new encoder's block
list are new residual blocks, the old blocks fill the other places in order, and each new block starts as
the identity (its main path ends in a batch norm with zero scale and shift, its residual 1x1 conv is the
identity matrix with a pass-through batch norm). In eval mode the deeper model computes exactly what the
small one did on every frame within an utterance's length (the block's activation, ReLU or NeMo's clipped
ReLU, passes the previous block's output unchanged); in training mode the residual batch norm normalises
on batch statistics, a small change that training absorbs (zero-initialised residual branches, as in
Goyal et al. 2017).
"""

from __future__ import annotations

import logging
import re

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
                    return {"path": spec, "include": None, "exclude": [], "grow": False, "insert_blocks": [],
                            "rename": {}}
                if isinstance(spec, dict) and "path" not in spec and len(spec) == 1:  # NeMo's {model0: {...}}
                    spec = next(iter(spec.values()))
                if not isinstance(spec, dict) or not spec.get("path"):
                    raise ValueError(f"{key}: give a path/name, or a mapping with `path` (and include/exclude)")
                return {"path": spec["path"], "include": spec.get("include"), "exclude": spec.get("exclude") or [],
                        "grow": bool(spec.get("grow", False)),
                        "insert_blocks": [int(i) for i in spec.get("insert_blocks") or []],
                        "rename": _renames(spec.get("rename"), key)}
    return None


def _renames(value, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"{key}.rename: give a mapping of name parts, e.g. {{decoder.: ctc_decoder.}}")
    return dict(value)


def renamed(state: dict[str, torch.Tensor], rename: dict[str, str]) -> dict[str, torch.Tensor]:
    """`state` with the first matching part of each name replaced (in the order `rename` lists them)."""
    if not rename:
        return state
    out = {}
    for key, value in state.items():
        for old, new in rename.items():
            if old in key:
                key = key.replace(old, new, 1)
                break
        out[key] = value
    return out


def grown(small: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor | None:
    """`fresh` with `small` embedded as described above, or None when `small` does not fit inside it."""
    if small.dim() != fresh.dim() or any(s > f for s, f in zip(small.shape, fresh.shape)):
        return None
    out = fresh.clone()
    out[tuple(slice(0, s) for s in small.shape)] = small
    if out.dim() >= 2 and out.shape[1] > small.shape[1]:
        out[: small.shape[0], small.shape[1]:] = 0  # new inputs must not change old outputs
    return out


BLOCK_KEY = re.compile(r"^encoder\.encoder\.(\d+)\.")


def shift_blocks(state: dict[str, torch.Tensor], inserted: list[int]) -> dict[str, torch.Tensor]:
    """`state` with encoder block N renamed to the Nth place of the new block list not in `inserted`."""
    if not inserted:
        return state
    found = [int(m.group(1)) for k in state if (m := BLOCK_KEY.match(k))]
    if not found:
        raise ValueError("init_from insert_blocks: the checkpoint has no Jasper-style encoder blocks")
    new = set(inserted)
    places = [i for i in range(1 + max(found) + len(new)) if i not in new]
    return {BLOCK_KEY.sub(lambda m: f"encoder.encoder.{places[int(m.group(1))]}.", k): v for k, v in state.items()}


def start_as_identity(block: nn.Module, where: str) -> None:
    """Make a residual Jasper block compute its input (see the module docstring)."""
    res = getattr(block, "res", None)
    if res is None or len(res) != 1 or block.residual_mode != "add":
        raise ValueError(f"init_from insert_blocks: {where} must be a residual block (residual: true, mode add)")
    conv, norm = res[0][0].conv, res[0][1]
    if conv.in_channels != conv.out_channels or conv.stride[0] != 1:
        raise ValueError(f"init_from insert_blocks: {where} must keep its channels and time steps "
                         f"({conv.in_channels} -> {conv.out_channels}, stride {conv.stride[0]})")
    last_norm = [m for m in block.mconv if isinstance(m, nn.BatchNorm1d)][-1]
    with torch.no_grad():
        nn.init.zeros_(last_norm.weight)
        nn.init.zeros_(last_norm.bias)
        conv.weight.copy_(torch.eye(conv.in_channels).unsqueeze(-1))
        nn.init.ones_(norm.weight)
        nn.init.zeros_(norm.bias)
        norm.running_mean.zero_()
        norm.running_var.fill_(1.0 - norm.eps)  # (x - 0) / sqrt(var + eps) is then x itself


def initialize_from(model: nn.Module, path: str, include: list[str] | None = None,
                    exclude: list[str] | None = None, grow: bool = False,
                    insert_blocks: list[int] | None = None, rename: dict[str, str] | None = None
                    ) -> tuple[list[str], list[str]]:
    """Copy matching weights from `path` into `model`; returns (loaded keys, skipped keys)."""
    source = renamed(shift_blocks(read_archive(resolve(path)).state_dict, list(insert_blocks or [])), rename or {})
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
    for i in insert_blocks or []:
        start_as_identity(model.encoder.encoder[i], f"encoder block {i}")
    log.warning("init_from %s: loaded %d tensors (%d of them grown), skipped %d%s%s", path, len(loaded), widened,
                len(skipped), f" (e.g. {', '.join(skipped[:3])})" if skipped else "",
                f"; new identity blocks {list(insert_blocks)}" if insert_blocks else "")
    return loaded, skipped
