"""New speakers from old ones: WORLD (pyworld) analyses an utterance into pitch, spectral envelope and
aperiodicity, then resynthesises it with the pitch scaled and the envelope stretched along frequency. A
stretch by `formant_scale` > 1 moves every formant up as a shorter vocal tract does (a child's or a smaller
adult's), < 1 down; together with pitch that is a different-sounding speaker saying the same thing. WORLD draws
no randomness, so the result depends on the input alone."""

from __future__ import annotations

import numpy as np

from harken.synth.engines.base import EXTRA, EngineMissing

FRAME_MS = 5.0


def warp(audio: np.ndarray, sample_rate: int, f0_scale: float = 1.0, formant_scale: float = 1.0) -> np.ndarray:
    """`audio` (float mono) said with pitch x `f0_scale` and formants x `formant_scale`; same length, same RMS."""
    if f0_scale == 1.0 and formant_scale == 1.0:
        return audio
    if not (0.25 <= f0_scale <= 4.0 and 0.5 <= formant_scale <= 2.0):
        raise ValueError(f"warp: f0_scale {f0_scale} (0.25-4) or formant_scale {formant_scale} (0.5-2) out of range")
    try:
        import pyworld
    except ImportError:
        raise EngineMissing(f"pitch and formant warping need pyworld: {EXTRA}") from None
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0, times = pyworld.dio(x, sample_rate, frame_period=FRAME_MS)
    f0 = pyworld.stonemask(x, f0, times, sample_rate)
    envelope = pyworld.cheaptrick(x, f0, times, sample_rate)
    aperiodicity = pyworld.d4c(x, f0, times, sample_rate)
    if formant_scale != 1.0:
        envelope, aperiodicity = stretch(envelope, formant_scale), stretch(aperiodicity, formant_scale)
    y = pyworld.synthesize(f0 * f0_scale, envelope, aperiodicity, sample_rate, frame_period=FRAME_MS)
    y = np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]
    gain = np.sqrt(np.mean(x**2) / max(float(np.mean(y**2)), 1e-12))
    return (y * gain).astype(np.float32)


def stretch(frames: np.ndarray, scale: float) -> np.ndarray:
    """Each frame's spectrum (bins 0..n-1 up to Nyquist) stretched by `scale` along frequency: the value at bin
    k comes from bin k / scale (linear interpolation; past the top the last bin holds)."""
    n = frames.shape[1]
    source = np.minimum(np.arange(n) / scale, n - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, n - 1)
    frac = source - low
    return np.ascontiguousarray(frames[:, low] * (1 - frac) + frames[:, high] * frac)
