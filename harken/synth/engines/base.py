"""What every speech engine offers the corpus: its voices (some held out of training) and one call that turns
text into float32 mono samples. Engines differ in what they can vary natively; pitch that an engine cannot set
is moved afterwards with WORLD (harken.synth.warp), so every engine honours the same arguments."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

import numpy as np
import soxr

EXTRA = "pip install 'harken[synth]'"


class EngineMissing(ValueError):
    """An optional engine's package is not installed (a ValueError: the CLI prints it as one line)."""


class Engine(ABC):
    """A text-to-speech engine. Subclasses load their model when built, which `get_engine` does once per process
    on first use, and are safe to call from several threads (the corpus renders in a thread pool)."""

    name: str = ""
    train_voices: tuple[str, ...] = ()  # voices training (and validation) may use
    test_voices: tuple[str, ...] = ()  # voices kept for the test split only: never in train or val
    speed_range: tuple[float, float] = (0.85, 1.2)  # training draws (test speaks at 1.0)
    pitch_range: tuple[float, float] = (0.85, 1.2)
    licence: str = ""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def letters(self, text: str) -> str:
        """What to say for a spelled item ("j a n e"): capitals, which the neural engines read as letter names
        (a lower-case "a" would be the article)."""
        return spoken_letters(text)

    @property
    def voices(self) -> tuple[str, ...]:
        return self.train_voices + self.test_voices

    def check_voice(self, voice: str) -> None:
        if voice not in self.voices:
            raise ValueError(f"{self.name}: unknown voice {voice!r}; it offers {', '.join(self.voices)}")

    def synthesize(self, text: str, voice: str, seed: int = 0, speed: float = 1.0, pitch: float = 1.0,
                   volume: float = 1.0, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
        """(samples, rate) of `text` said by `voice`; speed and pitch are multipliers of the voice's own (1.0:
        as it is), `seed` fixes whatever the engine draws at random, `sample_rate` resamples when given."""
        self.check_voice(voice)
        if not text.strip():
            raise ValueError(f"{self.name}: nothing to say (empty text)")
        audio, rate = self._synthesize(text, voice, seed, speed, pitch)
        audio = np.asarray(audio, dtype=np.float32).ravel()
        if volume != 1.0:
            audio = audio * np.float32(volume)
        if sample_rate is not None and sample_rate != rate:
            audio, rate = soxr.resample(audio, rate, sample_rate).astype(np.float32), sample_rate
        return audio, rate

    @abstractmethod
    def _synthesize(self, text: str, voice: str, seed: int, speed: float, pitch: float) -> tuple[np.ndarray, int]:
        """The engine's own call (voice already checked)."""


def shift_pitch(audio: np.ndarray, rate: int, pitch: float) -> np.ndarray:
    """Pitch moved by WORLD for engines that cannot set it themselves (1.0: untouched, no pyworld needed)."""
    if pitch == 1.0:
        return audio
    from harken.synth.warp import warp

    return warp(audio, rate, f0_scale=pitch)


def spoken_letters(text: str) -> str:
    """A spelled item ("j a n e") in capitals ("J A N E")."""
    return " ".join(c.upper() for c in text.split())


def require(module: str, engine: str, packages: str, extra: str = EXTRA):
    """Import an optional engine's module, or one line that names the missing packages and the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise EngineMissing(f"engine {engine!r} needs {packages} (not installed: {e.name}): {extra}") from None
