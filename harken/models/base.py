"""What every model family shares: a config in NeMo's layout, front end, encoder, head, `.nemo` save and
load, and the narrow surface the inference pipeline uses (`encode`, `frame_shift`, `sample_rate`).

Families (CTC, classifiers) are small subclasses. Loading dispatches through the family table in
`targets.py` (class names as strings), so no model module imports the loader.
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path

import torch
from torch import nn

from harken.core.config import resolve
from harken.core.inference_mode import inference_mode  # noqa: F401  (re-exported: models use it)
from harken.core.typed_module import connect
from harken.models.adopt import adopt, skipped_init
from harken.models.archive import ArchiveError, read_archive, write_archive
from harken.models.sizes import check_config_sizes
from harken.models.targets import MODEL_FAMILIES, MODULES, NEMO_CTC_MODEL_TARGET

SECTIONS = ("preprocessor", "spec_augment", "encoder", "decoder")


def family_class(target: str, where: str | Path = "config") -> type[SpeechModel]:
    """The harken class for a model-level `target:` (NeMo's or harken's class path)."""
    entry = MODEL_FAMILIES.get(target)
    if entry is None:
        raise ArchiveError(f"{where}: model class {target!r} is not supported; supported:\n  "
                           + "\n  ".join(sorted(MODEL_FAMILIES)))
    module, name = entry
    return getattr(importlib.import_module(module), name)


class SpeechModel(nn.Module):
    """preprocessor -> (SpecAugment while training) -> encoder -> decoder (the family's head)."""

    nemo_target = NEMO_CTC_MODEL_TARGET  # written as the archive's `target:`; families override

    def __init__(self, cfg: dict):
        super().__init__()
        cfg = resolve(cfg)
        cfg = cfg.get("model", cfg)
        check_config_sizes(cfg)  # before any tensor: absurd sizes are refused, not allocated
        self.cfg = cfg
        self.preprocessor = MODULES.instantiate(cfg["preprocessor"])
        augment = cfg.get("spec_augment")
        self.spec_augmentation = MODULES.instantiate(augment) if augment else None
        self.encoder = MODULES.instantiate(cfg["encoder"])
        self.decoder = MODULES.instantiate(cfg["decoder"])
        self.artifacts: dict[str, bytes] = {}
        connect(self.preprocessor, self.encoder)

    # ------------------------------------------------------------------ construction and archives
    @classmethod
    def from_config(cls, cfg: dict) -> SpeechModel:
        return cls(cfg)

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> SpeechModel:
        """A `.nemo` archive (harken's or NeMo's) as its family's class, in eval mode; `cls` checks the kind."""
        archive = read_archive(path)
        family = family_class(archive.config.get("target", NEMO_CTC_MODEL_TARGET), path)
        if not issubclass(family, cls):
            raise ArchiveError(f"{path}: holds a {family.__name__}, not a {cls.__name__}")
        try:
            with skipped_init():  # every tensor comes from the archive: no random initialisation
                model = family(archive.config, archive.artifacts)
        except (TypeError, IndexError, AttributeError, KeyError, ZeroDivisionError, RuntimeError) as e:
            raise ArchiveError(f"{path}: its config does not describe a model harken can build "
                               f"({type(e).__name__}: {e})") from None
        adopt(model, archive.state_dict)  # the archive's tensors become the model's: the weights are held once
        load_checked(model, archive.state_dict, path)
        return model.to(map_location).eval()

    restore_from = load  # NeMo's name

    def save(self, path: str | Path, half: bool = False) -> None:
        """Write a `.nemo` archive that harken and NeMo both load (`half`: weights stored as float16)."""
        state = {**self.state_dict(), **getattr(self, "passthrough_state", {})}
        write_archive(path, self.export_config(), state, artifacts=self.artifacts, half=half)

    save_to = save  # NeMo's name

    def export_config(self) -> dict:
        """The config as NeMo writes it: NeMo's class names in every `_target_` and in `target`."""
        cfg = copy.deepcopy(self.cfg)
        for section in SECTIONS:
            if cfg.get(section) and "_target_" in cfg[section]:
                cfg[section]["_target_"] = MODULES.nemo_name(cfg[section]["_target_"])
        cfg["target"] = self.nemo_target
        return cfg

    # ------------------------------------------------------------------ properties
    @property
    def sample_rate(self) -> int:
        return int(self.preprocessor.sample_rate)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def frame_shift(self) -> float:
        """Seconds per encoder frame: window stride x the encoder's subsampling."""
        return self.preprocessor.hop_length * self.encoder.subsampling() / self.sample_rate

    def change_attention_model(self, self_attention_model: str | None = None, att_context_size: list | None = None,
                               update_config: bool = True) -> None:
        """NeMo's method: a Conformer encoder's self-attention becomes local (`rel_pos_local_attn`, [left, right]
        frames: memory linear in the length, for long audio) or full again (`rel_pos`); the config follows."""
        if self_attention_model is None and att_context_size is None:
            return
        change = getattr(self.encoder, "change_attention_model", None)
        if change is None:
            raise ValueError(f"{type(self.encoder).__name__} has no self-attention to change")
        change(self_attention_model, att_context_size)
        if update_config:
            self.cfg["encoder"]["self_attention_model"] = self.encoder.self_attention_model
            self.cfg["encoder"]["att_context_size"] = list(self.encoder.att_context_size)

    # ------------------------------------------------------------------ compute
    def encode(self, input_signal: torch.Tensor, input_signal_length: torch.Tensor, pad_to: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Waveforms [B, T] -> encoder output [B, C, T'] and valid frames [B] (SpecAugment only in training)."""
        if pad_to is None:
            feats, feat_len = self.preprocessor(input_signal, input_signal_length)
        else:
            feats, feat_len = self.preprocessor(input_signal, input_signal_length, pad_to=pad_to)
        if self.training and self.spec_augmentation is not None:
            feats = self.spec_augmentation(feats, feat_len)
        return self.encoder(feats, feat_len)


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
