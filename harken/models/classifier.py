"""Utterance classifier (MatchboxNet speech commands, MarbleNet VAD): front end -> encoder -> pooled head.

Loads NeMo's `EncDecClassificationModel` archives. `classify` batches only inputs of equal length,
because the head averages over every frame, padding included: NeMo's batched results depend on what
else is in the batch, harken's do not.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from harken.audio.io import AudioSource, as_waveform
from harken.core.config import resolve
from harken.core.registry import NEMO_CLASSIFIER_TARGET, NEMO_FRAME_CLASSIFIER_TARGET, instantiate, nemo_target
from harken.core.typed_module import connect
from harken.models.archive import write_archive
from harken.models.ctc_model import inference_mode


@dataclass
class Classification:
    label: str
    index: int
    logits: torch.Tensor  # [classes]


class SpeechClassifier(nn.Module):
    nemo_target = NEMO_CLASSIFIER_TARGET

    def __init__(self, cfg: dict, artifacts: dict[str, bytes] | None = None):
        super().__init__()
        cfg = resolve(cfg)
        cfg = cfg.get("model", cfg)
        self.cfg = cfg
        self.labels = list(cfg.get("labels") or [])
        self.preprocessor = instantiate(cfg["preprocessor"])
        augment = cfg.get("spec_augment")
        self.spec_augmentation = instantiate(augment) if augment else None
        self.encoder = instantiate(cfg["encoder"])
        self.decoder = instantiate(cfg["decoder"])
        if self.labels and len(self.labels) != self.decoder.num_classes:
            raise ValueError(f"model config: {len(self.labels)} labels but decoder.num_classes="
                             f"{self.decoder.num_classes}")
        connect(self.preprocessor, self.encoder)
        if not isinstance(self, FrameClassifier):  # the frame head reads the encoder output transposed
            connect(self.encoder, self.decoder)

    @property
    def sample_rate(self) -> int:
        return int(self.preprocessor.sample_rate)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, input_signal: torch.Tensor, input_signal_length: torch.Tensor) -> torch.Tensor:
        """Waveforms [B, T] -> logits [B, classes]."""
        feats, feat_len = self.preprocessor(input_signal, input_signal_length)
        if self.training and self.spec_augmentation is not None:
            feats = self.spec_augmentation(feats, feat_len)
        encoded, _ = self.encoder(feats, feat_len)
        return self.decoder(encoded)

    def classify(self, audio: AudioSource | Sequence[AudioSource], batch_size: int = 8) -> list[Classification]:
        items = [audio] if isinstance(audio, (str, Path, np.ndarray, torch.Tensor)) else list(audio)
        waves = [as_waveform(item, self.sample_rate) for item in items]
        groups: dict[int, list[int]] = {}
        for i, w in enumerate(waves):
            groups.setdefault(len(w), []).append(i)
        results: list = [None] * len(items)
        with inference_mode(self):
            for n, idx in groups.items():
                for start in range(0, len(idx), batch_size):
                    chunk = idx[start:start + batch_size]
                    batch = torch.from_numpy(np.stack([waves[i] for i in chunk])).to(self.device)
                    logits = self(batch, torch.full((len(chunk),), n, device=self.device)).cpu()
                    for i, row in zip(chunk, logits):
                        k = int(row.argmax())
                        results[i] = Classification(self.labels[k], k, row)
        return results

    def transcribe(self, audio: AudioSource | Sequence[AudioSource], batch_size: int = 8, progress: bool = False,
                   **ignored) -> list[str]:
        """The predicted label of each input (the uniform model API)."""
        return [c.label for c in self.classify(audio, batch_size=batch_size)]

    def export_config(self) -> dict:
        cfg = copy.deepcopy(self.cfg)
        for section in ("preprocessor", "spec_augment", "encoder", "decoder"):
            if cfg.get(section) and "_target_" in cfg[section]:
                cfg[section]["_target_"] = nemo_target(cfg[section]["_target_"])
        cfg["target"] = self.nemo_target
        return cfg

    def save(self, path: str | Path, half: bool = False) -> None:
        """Write a `.nemo` archive that harken and NeMo both load (`half`: weights stored as float16)."""
        state = {**self.state_dict(), **getattr(self, "passthrough_state", {})}
        write_archive(path, self.export_config(), state, half=half)


class FrameClassifier(SpeechClassifier):
    """One label per encoder frame (MarbleNet frame VAD: 20 ms frames). `classify` gives frame labels,
    which NeMo's own `transcribe()` for this class does not (it returns top-k over time instead)."""

    nemo_target = NEMO_FRAME_CLASSIFIER_TARGET

    def forward(self, input_signal: torch.Tensor, input_signal_length: torch.Tensor) -> torch.Tensor:
        """Waveforms [B, T] -> logits [B, frames, classes]."""
        feats, feat_len = self.preprocessor(input_signal, input_signal_length)
        if self.training and self.spec_augmentation is not None:
            feats = self.spec_augmentation(feats, feat_len)
        encoded, _ = self.encoder(feats, feat_len)
        return self.decoder(encoded.transpose(1, 2))

    def frame_labels(self, audio: AudioSource) -> list[str]:
        """The label of every valid encoder frame of one input."""
        wave = torch.from_numpy(as_waveform(audio, self.sample_rate))[None].to(self.device)
        length = torch.tensor([wave.shape[1]], device=self.device)
        with inference_mode(self):
            encoded, enc_len = self.encoder(*self.preprocessor(wave, length))
            logits = self.decoder(encoded.transpose(1, 2))[0]
        return [self.labels[int(k)] for k in logits[: int(enc_len[0])].argmax(-1)]

    def classify(self, audio, batch_size: int = 8):
        raise TypeError("a frame classifier labels frames: use frame_labels(audio) or transcribe([...])")

    def transcribe(self, audio: AudioSource | Sequence[AudioSource], batch_size: int = 8, progress: bool = False,
                   **ignored) -> list[list[str]]:
        items = [audio] if isinstance(audio, (str, Path, np.ndarray, torch.Tensor)) else list(audio)
        return [self.frame_labels(item) for item in items]
