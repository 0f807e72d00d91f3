"""Open any supported `.nemo` archive as the right harken model class, checking that weights fit."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from harken.core.registry import MODEL_TARGETS, NEMO_CTC_MODEL_TARGET
from harken.models.archive import ArchiveError, read_archive


def model_class(kind: str) -> type[nn.Module]:
    if kind == "ctc":
        from harken.models.ctc_model import ASRModel

        return ASRModel
    from harken.models.classifier import FrameClassifier, SpeechClassifier

    return FrameClassifier if kind == "frame_classification" else SpeechClassifier


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    archive = read_archive(path)
    target = archive.config.get("target", NEMO_CTC_MODEL_TARGET)
    kind = MODEL_TARGETS.get(target)
    if kind is None:
        raise ArchiveError(
            f"{path}: model class {target!r} is not supported; supported:\n  " + "\n  ".join(sorted(MODEL_TARGETS))
        )
    model = model_class(kind)(archive.config, archive.artifacts)
    load_checked(model, archive.state_dict, path)
    return model.to(map_location).eval()


def load_checked(model: nn.Module, state: dict[str, torch.Tensor], where: str | Path) -> None:
    """load_state_dict that names every missing, unexpected or mis-shaped tensor instead of failing vaguely."""
    expected = model.state_dict()
    # training-only tensors (NeMo's frame VAD saves its loss's class weights): kept to be written back
    model.passthrough_state = {k: v for k, v in state.items() if k.startswith("loss.") and k not in expected}
    state = {k: v for k, v in state.items() if k not in model.passthrough_state}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    resized = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
               if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or resized:
        raise ArchiveError(
            f"{where}: weights do not fit the model its config describes: "
            f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}, "
            f"wrong shape {resized[:3]}{'...' if len(resized) > 3 else ''}"
        )
    model.load_state_dict(state)
