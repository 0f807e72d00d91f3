"""Non-speech sounds for the synthetic command and VAD corpora: noises, hum, music-like tones, bells, clatter
and babble, each a float32 signal of about unit RMS drawn from a numpy generator (so corpora stay
reproducible). Training and test use different kinds (`TRAIN_KINDS`, `TEST_KINDS`): a held-out test set
then measures robustness to sounds a model never heard, not memory of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TRAIN_KINDS = ("white", "pink", "hum", "music", "babble")
TEST_KINDS = ("brown", "bells", "clatter", "babble")  # babble of test voices only


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-9)).astype(np.float32)


def colored(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise with a 1/f^exponent power spectrum (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n), 1.0 / max(n, 1))
    return _unit(np.fft.irfft(spectrum / freqs ** (exponent / 2), n=n))


def hum(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum or a fan: a 50/60 Hz fundamental with odd-heavy harmonics over a little noise."""
    t = np.arange(n) / sr
    f0 = rng.choice([50.0, 60.0]) * rng.uniform(0.98, 1.02)
    x = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) for k in range(1, 8))
    return _unit(x + 0.05 * colored(n, rng, 1.0))


def _note(freq: float, n: int, sr: int, rng: np.random.Generator, partials: Sequence[float], decay: float
          ) -> np.ndarray:
    t = np.arange(n) / sr
    x = sum(rng.uniform(0.3, 1.0) / (i + 1) * np.sin(2 * np.pi * freq * p * t) for i, p in enumerate(partials))
    return x * np.exp(-t * decay) * np.minimum(t * 200, 1.0)


def music(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Music-like: chords of harmonic notes on a beat, from a random key and tempo."""
    out = np.zeros(n)
    beat = int(sr * rng.uniform(0.25, 0.6))
    root = 110 * 2 ** (rng.integers(0, 24) / 12)
    scale = [0, 2, 4, 5, 7, 9, 11, 12, 14, 16]
    for start in range(0, n, beat):
        length = min(n - start, beat * int(rng.integers(1, 4)))
        for degree in rng.choice(scale, size=int(rng.integers(1, 4)), replace=False):
            out[start:start + length] += _note(root * 2 ** (degree / 12), length, sr, rng, (1, 2, 3, 4),
                                               rng.uniform(1.0, 4.0))
    return _unit(out)


def bells(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Struck bells or chimes: inharmonic partials with long decays, at random times (test only)."""
    out = np.zeros(n)
    for start in np.sort(rng.integers(0, max(n - 1, 1), size=int(rng.integers(2, 6)))):
        f = rng.uniform(300, 1500)
        out[start:] += _note(f, n - start, sr, rng, (1.0, 2.76, 5.4, 8.93), rng.uniform(0.8, 3.0))
    return _unit(out + 1e-3 * rng.standard_normal(n))


def clatter(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Keyboard, dishes, footsteps: short band-passed noise bursts (test only)."""
    out = np.zeros(n)
    for start in rng.integers(0, max(n - 1, 1), size=int(rng.uniform(3, 12) * n / sr)):
        size = int(sr * rng.uniform(0.005, 0.04))
        burst = np.diff(rng.standard_normal(size + 1)) * np.exp(-np.arange(size) / (size / 4))
        out[start:start + size] += burst[: n - start] * rng.uniform(0.2, 1.0)
    return _unit(out + 1e-3 * rng.standard_normal(n))


def babble(n: int, rng: np.random.Generator, speech: Sequence[np.ndarray]) -> np.ndarray:
    """Many far-off talkers: utterances looped, shifted and summed, then low-passed (a murmur, not words)."""
    if not speech:
        return colored(n, rng, 1.0)
    out = np.zeros(n)
    for k in range(max(len(speech), 5)):
        s = speech[k % len(speech)]
        out += np.roll(np.resize(s, n), int(rng.integers(0, n))) * rng.uniform(0.5, 1.0)
    kernel = np.hanning(9)
    return _unit(np.convolve(out, kernel / kernel.sum(), mode="same"))


def background(kind: str, n: int, sr: int, rng: np.random.Generator, speech: Sequence[np.ndarray] = ()
               ) -> np.ndarray:
    """`n` samples of sound `kind` at about unit RMS; babble mixes `speech` (utterances of the same split)."""
    if kind in ("white", "pink", "brown"):
        return colored(n, rng, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind])
    makers = {"hum": hum, "music": music, "bells": bells, "clatter": clatter}
    if kind == "babble":
        return babble(n, rng, speech)
    if kind not in makers:
        raise ValueError(f"background {kind!r}: use one of {sorted(set(TRAIN_KINDS + TEST_KINDS))}")
    return makers[kind](n, sr, rng)


def at_snr(signal_power: float, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`noise` scaled to lie `snr_db` below a signal of mean power `signal_power`."""
    return (noise * np.sqrt(signal_power / (np.mean(noise ** 2) + 1e-12) / 10 ** (snr_db / 10))).astype(np.float32)
