"""MFCC front end, numerically equal to NeMo's `AudioToMFCCPreprocessor` (which wraps torchaudio's MFCC).

Pipeline: centred STFT with reflect padding and a periodic window -> power spectrum -> HTK mel
filterbank (no area norm) -> log(x + 1e-6) (NeMo passes `log_mels=True`) -> DCT-II (ortho).
No dither, no pre-emphasis, no masking: NeMo feeds the MFCC of the padding to the encoder too, and
its valid length is ceil(samples / hop) although the tensor has samples // hop + 1 frames.

torchaudio is not needed: the filterbank and DCT are computed here (and equal torchaudio's), and
the state-dict names are torchaudio's so NeMo checkpoints load.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from harken.audio.mel import audio_signal_inputs
from harken.core.neural_types import LengthsType, MFCCSpectrogramType, NeuralType
from harken.core.typed_module import TypedModule

LOG_OFFSET = 1e-6


def htk_mel_filterbank(n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int) -> torch.Tensor:
    """[n_freqs, n_mels] triangular filters on the HTK mel scale, peak 1 (torchaudio's default)."""
    def hz_to_mel(f: float) -> float:
        return 2595.0 * math.log10(1.0 + f / 700.0)

    freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    mels = torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)
    f_pts = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - freqs.unsqueeze(1)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0)


def dct_ortho(n_mfcc: int, n_mels: int) -> torch.Tensor:
    """[n_mels, n_mfcc] DCT-II matrix with orthonormal scaling."""
    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mfcc, dtype=torch.float64).unsqueeze(1)
    dct = torch.cos(math.pi / n_mels * (n + 0.5) * k)
    dct[0] *= 1.0 / math.sqrt(2.0)
    dct *= math.sqrt(2.0 / n_mels)
    return dct.t().float()


class _Spectrogram(nn.Module):
    def __init__(self, window: torch.Tensor):
        super().__init__()
        self.register_buffer("window", window)


class _MelScale(nn.Module):
    def __init__(self, fb: torch.Tensor):
        super().__init__()
        self.register_buffer("fb", fb)


class _MelSpectrogram(nn.Module):
    def __init__(self, window: torch.Tensor, fb: torch.Tensor):
        super().__init__()
        self.spectrogram, self.mel_scale = _Spectrogram(window), _MelScale(fb)


class MFCCFeatures(nn.Module):
    """Buffers named as torchaudio's `MFCC` (`dct_mat`, `MelSpectrogram.spectrogram.window`, `...fb`)."""

    def __init__(self, sample_rate: int, n_fft: int, win_length: int, hop_length: int, n_mels: int, n_mfcc: int,
                 f_min: float, f_max: float | None, window: str):
        super().__init__()
        windows = {"hann": torch.hann_window, "hamming": torch.hamming_window,
                   "blackman": torch.blackman_window, "bartlett": torch.bartlett_window}
        if window not in windows:
            raise ValueError(f"MFCC window {window!r}: use one of {sorted(windows)}")
        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        fb = htk_mel_filterbank(n_fft // 2 + 1, f_min, f_max or sample_rate / 2, n_mels, sample_rate)
        self.MelSpectrogram = _MelSpectrogram(windows[window](win_length), fb)
        self.register_buffer("dct_mat", dct_ortho(n_mfcc, n_mels))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(audio, self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
                          window=self.MelSpectrogram.spectrogram.window, center=True, pad_mode="reflect",
                          normalized=False, onesided=True, return_complex=True).abs().pow(2.0)
        mel = torch.matmul(spec.transpose(-1, -2), self.MelSpectrogram.mel_scale.fb).transpose(-1, -2)
        return torch.matmul(torch.log(mel + LOG_OFFSET).transpose(-1, -2), self.dct_mat).transpose(-1, -2)


class MFCCPreprocessor(TypedModule):
    """Config-facing MFCC front end; arguments and defaults as NeMo's `AudioToMFCCPreprocessor`."""

    def __init__(self, sample_rate: int = 16000, window_size: float = 0.02, window_stride: float = 0.01,
                 n_window_size: int | None = None, n_window_stride: int | None = None, window: str = "hann",
                 n_fft: int | None = None, lowfreq: float = 0.0, highfreq: float | None = None,
                 n_mels: int = 64, n_mfcc: int = 64, dct_type: int = 2, norm: str = "ortho", log: bool = True,
                 **ignored):
        super().__init__()
        if dct_type != 2 or norm != "ortho" or not log:
            raise ValueError("MFCCPreprocessor supports dct_type=2, norm=ortho, log=true")
        self.sample_rate = sample_rate
        win = n_window_size or int(window_size * sample_rate)
        hop = n_window_stride or int(window_stride * sample_rate)
        n_fft = n_fft or 2 ** math.ceil(math.log2(win))
        self.featurizer = MFCCFeatures(sample_rate, n_fft, win, hop, n_mels, n_mfcc, lowfreq, highfreq, window)

    @property
    def input_types(self) -> dict:  # type: ignore[override]
        return audio_signal_inputs(self.sample_rate)

    output_types = {
        "processed_signal": NeuralType(("B", "D", "T"), MFCCSpectrogramType()),
        "processed_length": NeuralType(("B",), LengthsType()),
    }

    @property
    def hop_length(self) -> int:
        return self.featurizer.hop_length

    @torch.no_grad()
    def forward(self, input_signal: torch.Tensor, length: torch.Tensor, pad_to: int | None = None):
        """`pad_to` is accepted for a uniform front-end call and ignored (NeMo's MFCC has none)."""
        features = self.featurizer(input_signal.float())
        return features, torch.ceil(length.float() / self.hop_length).long()
