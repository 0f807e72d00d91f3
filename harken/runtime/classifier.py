"""Utterance and frame classifiers (MatchboxNet commands, MarbleNet VAD) with onnxruntime and numpy alone.

One input per graph call: the utterance head averages over every frame, padding included, so batching
inputs of different lengths would change the result (harken's torch classifier avoids it the same way).
Results are `SpeechSpan`s, as `SpeechClassifier.spans` / `FrameClassifier.spans` give them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from harken.inference.results import SpeechSpan
from harken.runtime.audio import AudioLike, as_samples
from harken.runtime.features import FrontEnd, features
from harken.runtime.model_files import metadata, open_session


class OnnxClassifier:
    def __init__(self, model_path: str | Path, threads: int | None = None, providers: list[str] | None = None):
        import json

        self.session = open_session(model_path, threads, providers)
        self.meta = metadata(self.session)
        self.kind = self.meta.get("kind", "")
        if self.kind not in ("classifier", "frame_classifier"):
            raise ValueError(f"{model_path} is not a classifier ({self.kind or 'no harken metadata'}): "
                             "use OnnxRecognizer for speech recognition")
        self.front_end = FrontEnd.from_metadata(self.meta)
        self.labels: list[str] = json.loads(self.meta["labels"])
        self.sample_rate = self.front_end.sample_rate
        self.frame_shift = float(self.meta["frame_shift"])
        self._inputs = [i.name for i in self.session.get_inputs()]

    def logits(self, wave: np.ndarray) -> np.ndarray:
        """One waveform -> [classes] logits (utterance classifier) or [valid frames, classes] (frame classifier)."""
        feats, n = features(wave, self.front_end)
        out = self.session.run(None, dict(zip(self._inputs, (feats[None], np.array([n], dtype=np.int64)))))
        return out[0][0] if self.kind == "classifier" else out[0][0, : int(out[1][0])]

    def classify(self, audio: AudioLike | Sequence[AudioLike]) -> list:
        """A label per input, or for a frame classifier a list with the label of every frame."""
        out = []
        for item in _items(audio):
            best = self.logits(as_samples(item, self.sample_rate)[0]).argmax(-1)
            out.append(self.labels[int(best)] if best.ndim == 0 else [self.labels[int(k)] for k in best])
        return out

    def spans(self, audio: AudioLike | Sequence[AudioLike]) -> list[list[SpeechSpan]]:
        """Per input: the whole input as one span (utterance classifier), or runs of frames with one label, each
        with its mean probability and times clipped to the audio (frame classifier)."""
        out = []
        for item in _items(audio):
            wave = as_samples(item, self.sample_rate)[0]
            seconds = len(wave) / self.sample_rate
            probs = _softmax(self.logits(wave))
            if probs.ndim == 1:
                k = int(probs.argmax())
                out.append([SpeechSpan(0.0, seconds, self.labels[k], float(probs[k]))])
            else:
                out.append(self._runs(probs, seconds))
        return out

    def _runs(self, probs: np.ndarray, seconds: float) -> list[SpeechSpan]:
        best, spans, start = probs.argmax(-1).tolist(), [], 0
        for t in range(1, len(best) + 1):
            if t == len(best) or best[t] != best[start]:
                score = float(probs[start:t, best[start]].mean())
                spans.append(SpeechSpan(min(start * self.frame_shift, seconds), min(t * self.frame_shift, seconds),
                                        self.labels[best[start]], score))
                start = t
        return spans


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _items(audio) -> list:
    return [audio] if isinstance(audio, (str, Path, np.ndarray)) else list(audio)
