"""hibari: a small distilled Kokoro voice (US English, female), 24 kHz, its own G2P. Only the bundled voice is
offered: the others download at run time. Its noise is drawn from the seed; pitch is moved with WORLD."""

from __future__ import annotations

import numpy as np

from harken.synth.engines.base import Engine, require, shift_pitch


class Hibari(Engine):
    name = "hibari"
    train_voices = ("heart",)
    test_voices = ()  # one voice: nothing to hold out (its test texts are still held out)
    licence = "Apache-2.0 (hibari-tts; a distillation of Kokoro-82M's af_heart)"

    def __init__(self) -> None:
        super().__init__()
        hibari = require("hibari", self.name, "hibari-tts")
        self._tts = hibari.Hibari(voice="heart", threads=1)
        self.rate = int(hibari.SAMPLE_RATE)

    def _synthesize(self, text: str, voice: str, seed: int, speed: float, pitch: float) -> tuple[np.ndarray, int]:
        with self._lock:  # the G2P builds its lexicon on first use
            phonemes = self._tts.phonemize(text)
        parts = [self._tts.from_phonemes(p, speed=speed, seed=[seed, i]) for i, p in enumerate(phonemes)]
        if not parts:
            raise ValueError(f"hibari: no phonemes for {text!r}")
        return shift_pitch(np.concatenate(parts), self.rate, pitch), self.rate
