"""Open any supported `.nemo` archive (or a harken training checkpoint, `.ckpt`) as the right harken model
class, checking that weights fit."""

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
    if str(path).endswith(".ckpt"):
        return load_training_checkpoint(path, map_location)
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


def load_training_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """The model inside a checkpoint `harken train` wrote (it carries its config), e.g. to evaluate a run
    before it ends. Read with weights_only=True like archives; a subword tokenizer travels as in archives."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated file, or a pickle that needs code
        raise ArchiveError(f"{path}: not a readable training checkpoint ({type(e).__name__}: {e})") from e
    cfg = ckpt.get("harken_config") if isinstance(ckpt, dict) else None
    if not cfg:
        raise ArchiveError(f"{path}: no harken_config inside: only checkpoints written by `harken train` load")
    kind = MODEL_TARGETS.get(cfg.get("target", NEMO_CTC_MODEL_TARGET), "ctc")
    model = model_class(kind)(cfg, ckpt.get("harken_artifacts") or {})
    state = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items()}
    load_checked(model, state, path)
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
