"""Utterance classifier (MatchboxNet speech commands, MarbleNet VAD): front end -> encoder -> pooled head.

Loads NeMo's `EncDecClassificationModel` archives. `classify` batches only inputs of equal length,
because the head averages over every frame, padding included: NeMo's batched results depend on what
else is in the batch, harken's do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from harken.audio.io import AudioSource, as_waveform
from harken.core.typed_module import connect
from harken.models.base import SpeechModel, inference_mode
from harken.models.targets import NEMO_CLASSIFIER_TARGET, NEMO_FRAME_CLASSIFIER_TARGET

if TYPE_CHECKING:
    from harken.inference.results import SpeechSpan


@dataclass
class Classification:
    label: str
    index: int
    logits: torch.Tensor  # [classes]


class SpeechClassifier(SpeechModel):
    nemo_target = NEMO_CLASSIFIER_TARGET

    def __init__(self, cfg: dict, artifacts: dict[str, bytes] | None = None):
        super().__init__(cfg)
        self.labels = list(self.cfg.get("labels") or [])
        if self.labels and len(self.labels) != self.decoder.num_classes:
            raise ValueError(f"model config: {len(self.labels)} labels but decoder.num_classes="
                             f"{self.decoder.num_classes}")
        if not isinstance(self, FrameClassifier):  # the frame head reads the encoder output transposed
            connect(self.encoder, self.decoder)

    def forward(self, input_signal: torch.Tensor, input_signal_length: torch.Tensor) -> torch.Tensor:
        """Waveforms [B, T] -> logits [B, classes]."""
        encoded, _ = self.encode(input_signal, input_signal_length)
        return self.decoder(encoded)

    def classify(self, audio: AudioSource | Sequence[AudioSource], batch_size: int = 8) -> list[Classification]:
        items = _items(audio)
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

    def spans(self, audio: AudioSource | Sequence[AudioSource], batch_size: int = 8) -> list[list[SpeechSpan]]:
        """Typed results with times: the whole input as one span with its label and probability."""
        from harken.inference.results import SpeechSpan

        items = _items(audio)
        out = []
        for item, c in zip(items, self.classify(items, batch_size=batch_size)):
            seconds = len(as_waveform(item, self.sample_rate)) / self.sample_rate
            out.append([SpeechSpan(0.0, seconds, c.label, float(c.logits.softmax(-1)[c.index]))])
        return out


class FrameClassifier(SpeechClassifier):
    """One label per encoder frame (MarbleNet frame VAD: 20 ms frames). `classify` gives frame labels,
    which NeMo's own `transcribe()` for this class does not (it returns top-k over time instead)."""

    nemo_target = NEMO_FRAME_CLASSIFIER_TARGET

    def forward(self, input_signal: torch.Tensor, input_signal_length: torch.Tensor) -> torch.Tensor:
        """Waveforms [B, T] -> logits [B, frames, classes]."""
        encoded, _ = self.encode(input_signal, input_signal_length)
        return self.decoder(encoded.transpose(1, 2))

    def frame_logits(self, audio: AudioSource) -> torch.Tensor:
        """[valid frames, classes] logits of one input."""
        wave = torch.from_numpy(as_waveform(audio, self.sample_rate))[None].to(self.device)
        length = torch.tensor([wave.shape[1]], device=self.device)
        with inference_mode(self):
            encoded, enc_len = self.encoder(*self.preprocessor(wave, length))
            logits = self.decoder(encoded.transpose(1, 2))[0]
        return logits[: int(enc_len[0])].cpu()

    def frame_labels(self, audio: AudioSource) -> list[str]:
        """The label of every valid encoder frame of one input."""
        return [self.labels[int(k)] for k in self.frame_logits(audio).argmax(-1)]

    def spans(self, audio: AudioSource | Sequence[AudioSource], batch_size: int = 8) -> list[list[SpeechSpan]]:
        """Runs of frames with the same label, in seconds (frame x frame shift, the last clipped to the audio),
        each with its mean probability. Thresholds and smoothing, as NeMo's VAD post-processing, come later."""
        from harken.inference.results import SpeechSpan

        out = []
        for item in _items(audio):
            seconds = len(as_waveform(item, self.sample_rate)) / self.sample_rate
            probs = self.frame_logits(item).softmax(-1)
            best = probs.argmax(-1).tolist()
            spans, start = [], 0
            for t in range(1, len(best) + 1):
                if t == len(best) or best[t] != best[start]:
                    score = float(probs[start:t, best[start]].mean())
                    spans.append(SpeechSpan(min(start * self.frame_shift, seconds), min(t * self.frame_shift, seconds),
                                            self.labels[best[start]], score))
                    start = t
            out.append(spans)
        return out

    def classify(self, audio, batch_size: int = 8):
        raise TypeError("a frame classifier labels frames: use frame_labels(audio) or transcribe([...])")

    def transcribe(self, audio: AudioSource | Sequence[AudioSource], batch_size: int = 8, progress: bool = False,
                   **ignored) -> list[list[str]]:
        return [self.frame_labels(item) for item in _items(audio)]


def _items(audio) -> list:
    return [audio] if isinstance(audio, (str, Path, np.ndarray, torch.Tensor)) else list(audio)
