"""Start training from another checkpoint's weights (NeMo's `init_from_nemo_model` / `init_from_pretrained_model`).

    init_from: stt_en_quartznet15x5            # a catalog name, .nemo path or URL
    init_from: {path: old.nemo, include: [encoder], exclude: [decoder]}

A key is taken when it contains one of `include` (default: everything) and none of `exclude`, and
its shape fits; what was taken and skipped is reported, because a silent partial load is the worst
kind of fine-tuning bug.
"""

from __future__ import annotations

import logging

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
                    return {"path": spec, "include": None, "exclude": []}
                if isinstance(spec, dict) and "path" not in spec and len(spec) == 1:  # NeMo's {model0: {...}}
                    spec = next(iter(spec.values()))
                if not isinstance(spec, dict) or not spec.get("path"):
                    raise ValueError(f"{key}: give a path/name, or a mapping with `path` (and include/exclude)")
                return {"path": spec["path"], "include": spec.get("include"), "exclude": spec.get("exclude") or []}
    return None


def initialize_from(model: nn.Module, path: str, include: list[str] | None = None,
                    exclude: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Copy matching weights from `path` into `model`; returns (loaded keys, skipped keys)."""
    source = read_archive(resolve(path)).state_dict
    own = model.state_dict()
    loaded, skipped = [], []
    for key, value in source.items():
        wanted = (not include or any(p in key for p in include)) and not any(p in key for p in exclude or [])
        if wanted and key in own and own[key].shape == value.shape:
            own[key] = value
            loaded.append(key)
        else:
            skipped.append(key)
    if not loaded:
        raise ValueError(f"init_from {path}: no weights matched the model (include={include}, exclude={exclude})")
    model.load_state_dict(own)
    log.warning("init_from %s: loaded %d tensors, skipped %d%s", path, len(loaded), len(skipped),
                f" (e.g. {', '.join(skipped[:3])})" if skipped else "")
    return loaded, skipped
