"""The front ends in numpy, equal to harken.audio's torch ones in eval mode (no dither) within 1e-4.

Log-mel (NeMo's `AudioToMelSpectrogramPreprocessor`): pre-emphasis -> centred STFT, zero padding, symmetric
window -> |X| ** mag_power -> Slaney mel -> log(x + guard) -> normalisation over the valid frames -> frames
past the valid count set to `pad_value` -> T padded to a multiple of `pad_to`. Valid frames: samples // hop,
of 1 + samples // hop computed (the last is always padding, as in torch).

MFCC (NeMo's `AudioToMFCCPreprocessor`): centred STFT, reflect padding, periodic window -> power -> HTK mel ->
log(x + 1e-6) -> orthonormal DCT-II; no masking; valid frames ceil(samples / hop).

The STFT runs in float64 blocks of frames, so memory stays bounded and rounding stays below torch's float32.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import math
from dataclasses import dataclass, fields

import numpy as np

NORM_EPS = 1e-5  # added to the standard deviation, as NeMo does
MFCC_LOG_OFFSET = 1e-6
BLOCK = 4096  # STFT frames per block


@dataclass(frozen=True)
class FrontEnd:
    """A front end's settings, as `harken.export.metadata` writes them into the model."""

    frontend: str  # "mel" or "mfcc"
    sample_rate: int
    win_length: int
    hop_length: int
    n_fft: int
    features: int
    window: str = "hann"
    lowfreq: float = 0.0
    highfreq: float = 0.0  # 0: the Nyquist frequency
    preemph: float = 0.0
    log: bool = True
    log_zero_guard_value: float = 2.0**-24
    mag_power: float = 2.0
    normalize: str = ""
    pad_to: int = 0
    pad_value: float = 0.0
    n_mels: int = 0  # MFCC's filterbank size (`features` is its number of coefficients)
    window_values: str = ""  # base64 float32: the model's own window (its rounding shows in quiet bins)

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> FrontEnd:
        missing = [k for k in ("frontend", "sample_rate", "win_length", "hop_length", "n_fft", "features")
                   if k not in meta]
        if missing:
            raise ValueError(f"model metadata lacks the front-end keys {missing}: export it with harken")
        values = {}
        for f in fields(cls):
            if f.name in meta:
                kind = {"int": int, "float": float, "bool": lambda s: bool(int(s)), "str": str}[str(f.type)]
                values[f.name] = kind(meta[f.name])
        return cls(**values)

    def analysis_window(self) -> np.ndarray:
        """The model's window when exported with it, else the formula (symmetric for mel, periodic for MFCC)."""
        if self.window_values:
            return np.frombuffer(base64.b64decode(self.window_values), dtype="<f4").astype(np.float64)
        return window(self.window, self.win_length, periodic=self.frontend == "mfcc")


# ---------------------------------------------------------------------------------------------- filterbanks
def slaney_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """[n_mels, n_fft//2 + 1] triangles on the Slaney mel scale, area-normalised (librosa's default)."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0

    def to_mel(f: float) -> float:
        return f / f_sp if f < min_log_hz else min_log_mel + math.log(f / min_log_hz) / logstep

    mels = np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2)
    hz = np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels)
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    rising = (bins[None, :] - hz[:-2, None]) / np.diff(hz)[:-1, None]
    falling = (hz[2:, None] - bins[None, :]) / np.diff(hz)[1:, None]
    tri = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    return (tri * (2.0 / (hz[2:] - hz[:-2]))[:, None]).astype(np.float32)


def htk_mel_filterbank(n_freqs: int, fmin: float, fmax: float, n_mels: int, sample_rate: int) -> np.ndarray:
    """[n_freqs, n_mels] triangles on the HTK mel scale, peak 1 (torchaudio's MFCC default)."""
    mels = np.linspace(2595.0 * math.log10(1.0 + fmin / 700.0), 2595.0 * math.log10(1.0 + fmax / 700.0), n_mels + 2)
    hz = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    freqs = np.linspace(0, sample_rate // 2, n_freqs)
    rising = (freqs[:, None] - hz[None, :-2]) / np.diff(hz)[None, :-1]
    falling = (hz[None, 2:] - freqs[:, None]) / np.diff(hz)[None, 1:]
    return np.maximum(0.0, np.minimum(rising, falling))


def dct_ortho(n_mfcc: int, n_mels: int) -> np.ndarray:
    """[n_mels, n_mfcc] orthonormal DCT-II."""
    dct = np.cos(math.pi / n_mels * (np.arange(n_mels) + 0.5)[None, :] * np.arange(n_mfcc)[:, None])
    dct[0] *= 1.0 / math.sqrt(2.0)
    return (dct * math.sqrt(2.0 / n_mels)).T


def window(name: str, length: int, periodic: bool) -> np.ndarray:
    """torch's hann/hamming/blackman/bartlett windows (periodic or symmetric); "ones"/"none" rectangular."""
    if name in ("ones", "none"):
        return np.ones(length)
    n = np.arange(length)
    denom = length if periodic else max(length - 1, 1)
    phase = 2.0 * math.pi * n / denom
    if name == "hann":
        return 0.5 - 0.5 * np.cos(phase)
    if name == "hamming":
        return 0.54 - 0.46 * np.cos(phase)
    if name == "blackman":
        return 0.42 - 0.5 * np.cos(phase) + 0.08 * np.cos(2.0 * phase)
    if name == "bartlett":
        return 1.0 - np.abs(2.0 * n / denom - 1.0)
    raise ValueError(f"window {name!r}: use hann, hamming, blackman, bartlett or ones")


# ---------------------------------------------------------------------------------------------- features
def _spectrum_blocks(x: np.ndarray, fe: FrontEnd, pad_mode: str, win: np.ndarray):
    """Yield |STFT| (magnitudes) of centred frames, [n_fft//2 + 1, frames] per block of up to BLOCK frames."""
    half = fe.n_fft // 2
    x = np.pad(x, half, mode=pad_mode)
    left = (fe.n_fft - fe.win_length) // 2
    full = np.zeros(fe.n_fft)
    full[left:left + fe.win_length] = win
    frames = np.lib.stride_tricks.sliding_window_view(x, fe.n_fft)[:: fe.hop_length]
    for start in range(0, len(frames), BLOCK):
        yield np.abs(np.fft.rfft(frames[start:start + BLOCK].astype(np.float64) * full, axis=-1)).T


def mel_features(wave: np.ndarray, fe: FrontEnd, pad_to: int | None = None) -> tuple[np.ndarray, int]:
    """One waveform -> (log-mel [features, T] float32, valid frames)."""
    x = np.asarray(wave, dtype=np.float32)
    valid = len(x) // fe.hop_length
    if fe.preemph:
        x = np.concatenate([x[:1], x[1:] - np.float32(fe.preemph) * x[:-1]])
    fb = slaney_mel_filterbank(fe.sample_rate, fe.n_fft, fe.features, fe.lowfreq, fe.highfreq or fe.sample_rate / 2)
    blocks = []
    for mag in _spectrum_blocks(x, fe, "constant", fe.analysis_window()):
        mel = fb.astype(np.float64) @ (mag if fe.mag_power == 1.0 else mag**fe.mag_power)
        blocks.append(np.log(mel + fe.log_zero_guard_value) if fe.log else mel)
    feats = np.concatenate(blocks, axis=1)
    feats = _normalize(feats, valid, fe.normalize)
    feats[:, valid:] = fe.pad_value
    return _pad(feats.astype(np.float32), fe.pad_to if pad_to is None else pad_to, fe.pad_value), valid


def mfcc_features(wave: np.ndarray, fe: FrontEnd) -> tuple[np.ndarray, int]:
    """One waveform -> (MFCC [features, T] float32, valid frames ceil(samples / hop))."""
    x = np.asarray(wave, dtype=np.float32)
    fb = htk_mel_filterbank(fe.n_fft // 2 + 1, fe.lowfreq, fe.highfreq or fe.sample_rate / 2, fe.n_mels,
                            fe.sample_rate)
    dct = dct_ortho(fe.features, fe.n_mels)
    blocks = [dct.T @ np.log(fb.T @ mag**2 + MFCC_LOG_OFFSET)
              for mag in _spectrum_blocks(x, fe, "reflect", fe.analysis_window())]
    return np.concatenate(blocks, axis=1).astype(np.float32), -(-len(x) // fe.hop_length)


def features(wave: np.ndarray, fe: FrontEnd, pad_to: int | None = None) -> tuple[np.ndarray, int]:
    """One waveform at `fe.sample_rate` -> (features [F, T] float32, valid frames)."""
    if fe.frontend not in ("mel", "mfcc"):
        raise ValueError(f"front end {fe.frontend!r}: the runtime computes mel and mfcc")
    with single_threaded_blas():
        return mfcc_features(wave, fe) if fe.frontend == "mfcc" else mel_features(wave, fe, pad_to)


def batch_features(waves: list[np.ndarray], fe: FrontEnd, pad_to: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Waveforms -> (features [B, F, T] padded with `pad_value`, valid frames [B] int64), as the torch front
    end computes them for the zero-padded batch (each row's valid frames do not depend on the others)."""
    rows = [features(w, fe, pad_to) for w in waves]
    t = max(r[0].shape[1] for r in rows)
    out = np.full((len(rows), rows[0][0].shape[0], t), fe.pad_value, dtype=np.float32)
    for b, (f, _) in enumerate(rows):
        out[b, :, : f.shape[1]] = f
    return out, np.array([n for _, n in rows], dtype=np.int64)


@functools.cache
def _blas_controller():
    """threadpoolctl's controller of the loaded BLAS libraries (scanned once), or None without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def single_threaded_blas():
    """A context in which numpy's BLAS uses one thread. Why: OpenBLAS's workers spin for a while after a product,
    and on a small machine they then take the cores onnxruntime is about to use (10 s through QuartzNet 5x5 at
    batch 1: 123 ms with the spinning, 69 ms without). A no-op when threadpoolctl is not installed."""
    controller = _blas_controller()
    return controller.limit(limits=1, user_api="blas") if controller is not None else contextlib.nullcontext()


def _normalize(x: np.ndarray, n: int, kind: str) -> np.ndarray:
    if not kind or kind in ("None", "NA"):
        return x
    if n == 0:
        return x  # nothing valid: every frame becomes padding
    valid = x[:, :n]
    if kind == "per_feature":
        mean = valid.mean(axis=1, keepdims=True)
        std = np.sqrt(((valid - mean) ** 2).sum(axis=1, keepdims=True) / (n - 1)) if n > 1 else 0.0
        return (x - mean) / (std + NORM_EPS)
    if kind == "all_features":
        std = valid.std(ddof=1) if valid.size > 1 else 0.0
        return (x - valid.mean()) / (std + NORM_EPS)
    raise ValueError(f"normalize={kind!r}: use per_feature, all_features or none")


def _pad(x: np.ndarray, pad_to: int, value: float) -> np.ndarray:
    if pad_to and x.shape[1] % pad_to:
        x = np.pad(x, ((0, 0), (0, pad_to - x.shape[1] % pad_to)), constant_values=value)
    return x
