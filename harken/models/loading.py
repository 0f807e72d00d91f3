"""Open any supported `.nemo` archive (or a harken training checkpoint, `.ckpt`) as the right harken model
class, checking that weights fit. The family is looked up in `targets.MODEL_FAMILIES`."""

from __future__ import annotations

from pathlib import Path

import torch

from harken.models.archive import ArchiveError
from harken.models.base import SpeechModel, family_class, load_checked
from harken.models.targets import NEMO_CTC_MODEL_TARGET

__all__ = ["load_model", "load_training_checkpoint", "load_checked"]


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> SpeechModel:
    if str(path).endswith(".ckpt"):
        return load_training_checkpoint(path, map_location)
    return SpeechModel.load(path, map_location)


def load_training_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> SpeechModel:
    """The model inside a checkpoint `harken train` wrote (it carries its config), e.g. to evaluate a run
    before it ends. Read with weights_only=True like archives; a subword tokenizer travels as in archives."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated file, or a pickle that needs code
        raise ArchiveError(f"{path}: not a readable training checkpoint ({type(e).__name__}: {e})") from e
    cfg = ckpt.get("harken_config") if isinstance(ckpt, dict) else None
    if not cfg:
        raise ArchiveError(f"{path}: no harken_config inside: only checkpoints written by `harken train` load")
    model = family_class(cfg.get("target", NEMO_CTC_MODEL_TARGET), path)(cfg, ckpt.get("harken_artifacts") or {})
    state = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items()}
    load_checked(model, state, path)
    return model.to(map_location).eval()
