"""Waveform perturbations for training, configured per dataset as NeMo's `augmentor:` section.

    train_ds:
      augmentor:
        speed: {prob: 0.3, min_rate: 0.9, max_rate: 1.1}
        gain: {prob: 0.5, min_gain_dbfs: -10, max_gain_dbfs: 10}
        shift: {prob: 0.3, min_shift_ms: -50, max_shift_ms: 50}
        white_noise: {prob: 0.3, min_snr_db: 10, max_snr_db: 40}
        colored_noise: {prob: 0.2, min_snr_db: 10, max_snr_db: 30, color: pink}
        babble: {prob: 0.2, min_snr_db: 10, max_snr_db: 25, speakers: 3}
        reverb: {prob: 0.2, min_rt60: 0.2, max_rt60: 0.8}
        telephone: {prob: 0.1}

Each perturbation is a small function (waveform, sample rate, rng, options) -> waveform, applied in
the order written, each with its probability. Babble mixes other utterances of the same dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import soxr

Perturbation = Callable[..., np.ndarray]


def _snr_scale(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    p_signal = float(np.mean(signal ** 2)) + 1e-12
    p_noise = float(np.mean(noise ** 2)) + 1e-12
    return noise * np.sqrt(p_signal / (p_noise * 10 ** (snr_db / 10)))


def speed(x, sr, rng, min_rate=0.9, max_rate=1.1):
    """Resample so the audio plays `rate` times faster (pitch moves with it, as sox `speed`)."""
    rate = rng.uniform(min_rate, max_rate)
    return soxr.resample(x, sr * rate, sr).astype(np.float32) if abs(rate - 1) > 1e-3 else x


def gain(x, sr, rng, min_gain_dbfs=-10.0, max_gain_dbfs=10.0):
    return x * np.float32(10 ** (rng.uniform(min_gain_dbfs, max_gain_dbfs) / 20))


def shift(x, sr, rng, min_shift_ms=-50.0, max_shift_ms=50.0):
    """Move the audio in time, filling with silence (positive: later)."""
    n = int(rng.uniform(min_shift_ms, max_shift_ms) / 1000 * sr)
    if n == 0 or abs(n) >= len(x):
        return x
    out = np.zeros_like(x)
    if n > 0:
        out[n:] = x[:-n]
    else:
        out[:n] = x[-n:]
    return out


def white_noise(x, sr, rng, min_snr_db=10.0, max_snr_db=40.0):
    return (x + _snr_scale(x, rng.standard_normal(len(x)), rng.uniform(min_snr_db, max_snr_db))).astype(np.float32)


def colored_noise(x, sr, rng, min_snr_db=10.0, max_snr_db=30.0, color="pink"):
    """Noise with a 1/f^a power spectrum: pink (a=1), brown (a=2), blue (a=-1)."""
    exponent = {"white": 0.0, "pink": 1.0, "brown": 2.0, "blue": -1.0}[color]
    spectrum = np.fft.rfft(rng.standard_normal(len(x)))
    freqs = np.maximum(np.fft.rfftfreq(len(x)), 1.0 / max(len(x), 1))
    noise = np.fft.irfft(spectrum / freqs ** (exponent / 2), n=len(x))
    return (x + _snr_scale(x, noise, rng.uniform(min_snr_db, max_snr_db))).astype(np.float32)


def babble(x, sr, rng, others: Sequence[np.ndarray] = (), min_snr_db=10.0, max_snr_db=25.0, speakers=3):
    """Other utterances mixed underneath, looped or cut to this one's length."""
    if not others:
        return x
    mix = np.zeros_like(x)
    for k in rng.choice(len(others), size=min(speakers, len(others)), replace=False):
        o = others[int(k)]
        if len(o):
            mix += np.resize(o, len(x)) * (rng.uniform(0.5, 1.0))
    return (x + _snr_scale(x, mix, rng.uniform(min_snr_db, max_snr_db))).astype(np.float32)


def room_impulse_response(sr: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A simulated RIR: direct path, sparse early reflections, exponentially decaying diffuse tail."""
    n = max(int(rt60 * sr), 1)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    early = np.zeros(n)
    for delay in rng.uniform(0.002, 0.05, size=6):
        i = int(delay * sr)
        if i < n:
            early[i] += rng.uniform(0.2, 0.6) * rng.choice([-1, 1])
    rir = 0.3 * tail + early
    rir[0] = 1.0
    return (rir / np.sqrt(np.sum(rir ** 2))).astype(np.float32)


def reverb(x, sr, rng, min_rt60=0.2, max_rt60=0.8):
    rir = room_impulse_response(sr, rng.uniform(min_rt60, max_rt60), rng)
    n = len(x) + len(rir) - 1
    size = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(rir, size), size)[: len(x)]
    peak_in, peak_out = np.abs(x).max() + 1e-9, np.abs(y).max() + 1e-9
    return (y * (peak_in / peak_out)).astype(np.float32)


def telephone(x, sr, rng, band_rate=8000):
    """Down to a telephone's sample rate (300-3400 Hz band survives the anti-alias filter) and back."""
    if sr <= band_rate:
        return x
    return soxr.resample(soxr.resample(x, sr, band_rate), band_rate, sr).astype(np.float32)[: len(x)]


PERTURBATIONS: dict[str, Perturbation] = {
    "speed": speed, "gain": gain, "shift": shift, "white_noise": white_noise, "colored_noise": colored_noise,
    "babble": babble, "reverb": reverb, "telephone": telephone,
}


class Augmentor:
    """Applies the configured perturbations in order, each with its probability."""

    def __init__(self, cfg: dict | None, seed: int | None = None):
        self.steps: list[tuple[str, float, dict]] = []
        for name, options in (cfg or {}).items():
            if name not in PERTURBATIONS:
                raise ValueError(f"augmentor.{name}: unknown perturbation; use one of {sorted(PERTURBATIONS)}")
            options = dict(options or {})
            prob = float(options.pop("prob", 1.0))
            self.steps.append((name, prob, options))
        self.rng = np.random.default_rng(seed)
        self.others: list[np.ndarray] = []  # recent utterances, the material for babble

    def __call__(self, x: np.ndarray, sr: int) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        original = x
        for name, prob, options in self.steps:
            if self.rng.random() < prob:
                extra = {"others": self.others} if name == "babble" else {}
                x = PERTURBATIONS[name](x, sr, self.rng, **options, **extra)
        self.others = (self.others + [original])[-20:]
        return np.clip(x, -1.0, 1.0) if np.abs(x).max(initial=0) > 1.0 else x
