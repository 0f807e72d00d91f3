"""Log-mel front end, numerically equal to NeMo's `AudioToMelSpectrogramPreprocessor`.

Pipeline per batch: dither (training only) -> pre-emphasis (masked to each row's length) -> centred
STFT with a symmetric window -> magnitude ** power -> Slaney mel filterbank -> log(x + guard) ->
per-feature normalisation over valid frames -> zero the frames past each length -> pad T to a
multiple of `pad_to`. Valid length is `samples // hop`.

The state-dict names (`featurizer.window`, `featurizer.fb`) are NeMo's, so checkpoints interoperate.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from harken.core.neural_types import AudioSignal, LengthsType, MelSpectrogramType, NeuralType
from harken.core.typed_module import TypedModule

_WINDOWS = {
    "hann": torch.hann_window,
    "hamming": torch.hamming_window,
    "blackman": torch.blackman_window,
    "bartlett": torch.bartlett_window,
    "ones": lambda n, periodic=False: torch.ones(n),
    "none": None,
}
NORM_EPS = 1e-5  # added to the std in normalisation, as NeMo does


def slaney_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular mel filters on the Slaney scale with area normalisation, [n_mels, n_fft//2 + 1].

    Same construction as librosa.filters.mel(norm="slaney", htk=False), without the dependency.
    """
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0

    def hz_to_mel(f: float) -> float:
        return f / f_sp if f < min_log_hz else min_log_mel + math.log(f / min_log_hz) / logstep

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)

    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((n_mels, len(fft_freqs)), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


def audio_signal_inputs(sample_rate: int) -> dict:
    """Input types of every audio front end: a batch of waveforms at `sample_rate` and their lengths."""
    return {
        "input_signal": NeuralType(("B", "T"), AudioSignal(freq=sample_rate)),
        "length": NeuralType(("B",), LengthsType()),
    }


def valid_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """[B, max_len] bool, True inside each row's length."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def normalize_batch(x: torch.Tensor, lengths: torch.Tensor, kind: str | None) -> torch.Tensor:
    """Mean/variance normalisation over the valid frames of each row ([B, D, T])."""
    if not kind or kind == "None":
        return x
    mask = valid_mask(lengths, x.shape[2])
    if kind == "per_feature":
        n = mask.sum(dim=1)[:, None]
        mean = torch.where(mask[:, None], x, 0.0).sum(dim=2) / n
        var = torch.where(mask[:, None], x - mean[:, :, None], 0.0).pow(2).sum(dim=2) / (n - 1.0)
        std = var.sqrt().nan_to_num(nan=0.0) + NORM_EPS
        return (x - mean[:, :, None]) / std[:, :, None]
    if kind == "all_features":
        means, stds = [], []
        for row, n in zip(x, lengths.tolist()):
            means.append(row[:, :n].mean())
            stds.append(row[:, :n].std())
        mean, std = torch.stack(means), torch.stack(stds) + NORM_EPS
        return (x - mean[:, None, None]) / std[:, None, None]
    raise ValueError(f"normalize={kind!r}: use per_feature, all_features or None")


class FilterbankFeatures(nn.Module):
    """The numeric core; `MelSpectrogramPreprocessor` adds config handling and types."""

    def __init__(
        self,
        sample_rate: int = 16000,
        win_length: int = 320,
        hop_length: int = 160,
        n_fft: int | None = None,
        window: str = "hann",
        normalize: str | None = "per_feature",
        preemph: float | None = 0.97,
        nfilt: int = 64,
        lowfreq: float = 0.0,
        highfreq: float | None = None,
        log: bool = True,
        log_zero_guard_value: float = 2**-24,
        dither: float = 1e-5,
        pad_to: int = 16,
        pad_value: float = 0.0,
        mag_power: float = 2.0,
    ):
        super().__init__()
        if window not in _WINDOWS:
            raise ValueError(f"window={window!r}: use one of {sorted(_WINDOWS)}")
        self.sample_rate, self.win_length, self.hop_length = sample_rate, win_length, hop_length
        self.n_fft = n_fft or 2 ** math.ceil(math.log2(win_length))
        self.normalize, self.preemph, self.log = normalize, preemph, log
        self.log_zero_guard_value, self.dither = log_zero_guard_value, dither
        self.pad_to, self.pad_value, self.mag_power = pad_to, pad_value, mag_power
        fn = _WINDOWS[window]
        self.register_buffer("window", fn(win_length, periodic=False) if fn else None)
        fb = slaney_mel_filterbank(sample_rate, self.n_fft, nfilt, lowfreq, highfreq or sample_rate / 2)
        self.register_buffer("fb", torch.from_numpy(fb).unsqueeze(0))

    @property
    def nfilt(self) -> int:
        return self.fb.shape[1]

    def get_seq_len(self, samples: torch.Tensor) -> torch.Tensor:
        return torch.div(samples, self.hop_length, rounding_mode="floor").long()

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, pad_to: int | None = None) -> tuple:
        frames = self.get_seq_len(lengths)
        if self.training and self.dither > 0:
            x = x + self.dither * torch.randn_like(x)
        if self.preemph is not None:
            x = torch.cat((x[:, :1], x[:, 1:] - self.preemph * x[:, :-1]), dim=1)
            x = x.masked_fill(~valid_mask(lengths, x.shape[1]), 0.0)
        with torch.autocast(x.device.type, enabled=False):
            spec = torch.stft(
                x.float(), n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
                window=self.window, center=True, pad_mode="constant", return_complex=True,
            )
        x = torch.view_as_real(spec).pow(2).sum(-1).sqrt()
        if self.mag_power != 1.0:
            x = x.pow(self.mag_power)
        x = torch.matmul(self.fb.to(x.dtype), x)
        if self.log:
            x = torch.log(x + self.log_zero_guard_value)
        x = normalize_batch(x, frames, self.normalize)
        x = x.masked_fill(~valid_mask(frames, x.shape[-1])[:, None, :], self.pad_value)
        pad_to = self.pad_to if pad_to is None else pad_to
        if pad_to and x.shape[-1] % pad_to:
            x = nn.functional.pad(x, (0, pad_to - x.shape[-1] % pad_to), value=self.pad_value)
        return x, frames


class MelSpectrogramPreprocessor(TypedModule):
    """Config-facing mel front end; arguments and defaults as NeMo's preprocessor config."""

    def __init__(
        self,
        sample_rate: int = 16000,
        window_size: float = 0.02,
        window_stride: float = 0.01,
        n_window_size: int | None = None,
        n_window_stride: int | None = None,
        window: str = "hann",
        normalize: str | None = "per_feature",
        n_fft: int | None = None,
        preemph: float | None = 0.97,
        features: int = 64,
        lowfreq: float = 0.0,
        highfreq: float | None = None,
        log: bool = True,
        log_zero_guard_type: str = "add",
        log_zero_guard_value: float = 2**-24,
        dither: float = 1e-5,
        pad_to: int = 16,
        frame_splicing: int = 1,
        exact_pad: bool = False,
        pad_value: float = 0.0,
        mag_power: float = 2.0,
        mel_norm: str = "slaney",
        **ignored,
    ):
        super().__init__()
        if log_zero_guard_type != "add" or frame_splicing != 1 or exact_pad or mel_norm != "slaney":
            raise ValueError(
                "MelSpectrogramPreprocessor supports log_zero_guard_type=add, frame_splicing=1, "
                "exact_pad=false, mel_norm=slaney"
            )
        self.sample_rate = sample_rate
        self.featurizer = FilterbankFeatures(
            sample_rate=sample_rate,
            win_length=n_window_size or int(window_size * sample_rate),
            hop_length=n_window_stride or int(window_stride * sample_rate),
            n_fft=n_fft, window=window, normalize=normalize, preemph=preemph, nfilt=features,
            lowfreq=lowfreq, highfreq=highfreq, log=log, log_zero_guard_value=log_zero_guard_value,
            dither=dither, pad_to=pad_to, pad_value=pad_value, mag_power=mag_power,
        )

    @property
    def input_types(self) -> dict:  # type: ignore[override]
        return audio_signal_inputs(self.sample_rate)

    output_types = {
        "processed_signal": NeuralType(("B", "D", "T"), MelSpectrogramType()),
        "processed_length": NeuralType(("B",), LengthsType()),
    }

    @property
    def hop_length(self) -> int:
        return self.featurizer.hop_length

    @torch.no_grad()
    def forward(self, input_signal: torch.Tensor, length: torch.Tensor, pad_to: int | None = None):
        return self.featurizer(input_signal, length, pad_to=pad_to)
