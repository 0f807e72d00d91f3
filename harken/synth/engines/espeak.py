"""espeak-ng behind the engine interface: formant speech, many accents and variants, no Python package."""

from __future__ import annotations

import numpy as np

from harken.synth.engines.base import Engine
from harken.synth.espeak import speak

BASE_WPM = 175  # espeak-ng's default rate: speed 1.0
BASE_PITCH = 50  # its default pitch (0-99): pitch 1.0


class Espeak(Engine):
    name = "espeak"
    licence = "GPL-3.0-or-later (espeak-ng, run as a separate program)"

    @property
    def train_voices(self) -> tuple[str, ...]:  # the corpus's standard choice (corpus.py plans espeak itself)
        from harken.synth.corpus import TRAIN_ACCENTS, TRAIN_VARIANTS, voices

        return tuple(voices(TRAIN_ACCENTS, TRAIN_VARIANTS))

    @property
    def test_voices(self) -> tuple[str, ...]:
        from harken.synth.corpus import TEST_ACCENTS, TEST_VARIANTS, voices

        return tuple(voices(TEST_ACCENTS, TEST_VARIANTS))

    def check_voice(self, voice: str) -> None:
        pass  # any voice espeak-ng knows (e.g. the wide variety's); espeak-ng itself reports an unknown one

    def synthesize(self, text: str, voice: str, seed: int = 0, speed: float = 1.0, pitch: float = 1.0,
                   volume: float = 1.0, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
        """espeak-ng renders rate, pitch, amplitude and sample rate itself (the corpus's audio as it always
        was); `seed` is unused: espeak-ng draws nothing at random. SSML and [[phonemes]] pass through."""
        rate = sample_rate or 22050
        audio = speak(text, voice, round(BASE_WPM * speed), round(BASE_PITCH * pitch), rate,
                      amplitude=round(100 * volume))
        return audio, rate

    def _synthesize(self, text: str, voice: str, seed: int, speed: float, pitch: float) -> tuple[np.ndarray, int]:
        return self.synthesize(text, voice, seed, speed, pitch)
