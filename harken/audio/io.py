"""Reading audio into float32 mono at the model's sample rate, and writing it back as 16-bit WAV.

soundfile reads wav/flac/ogg (and mp3 with libsndfile >= 1.1); soxr resamples. Every failure names
the file, because in a 100k-line manifest "Error opening file" is useless.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from harken.core.atomic import atomic_write_bytes


class AudioError(ValueError):
    pass


AudioSource = str | Path | np.ndarray | torch.Tensor


def load_audio(
    path: str | Path,
    sample_rate: int,
    offset: float = 0.0,
    duration: float | None = None,
    channel: int | None = None,
) -> np.ndarray:
    """Return a float32 mono waveform in [-1, 1] at `sample_rate`.

    `channel=None` averages all channels; an int picks one. `offset`/`duration` in seconds.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: audio file not found")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: audio file is empty (0 bytes)")
    try:
        with sf.SoundFile(str(path)) as f:
            native_sr = f.samplerate
            start = int(round(offset * native_sr))
            if start > f.frames:
                raise AudioError(f"{path}: offset {offset}s is past the end ({f.frames / native_sr:.2f}s)")
            f.seek(start)
            frames = -1 if duration is None else int(round(duration * native_sr))
            audio = f.read(frames=frames, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise AudioError(f"{path}: cannot read audio ({e})") from e
    return to_mono_resampled(audio, native_sr, sample_rate, channel=channel, name=str(path))


def to_mono_resampled(
    audio: np.ndarray, native_sr: int, sample_rate: int, channel: int | None = None, name: str = "<array>"
) -> np.ndarray:
    """[N] or [N, C] -> float32 mono [N'] at `sample_rate`."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        if channel is not None:
            if not -audio.shape[1] <= channel < audio.shape[1]:
                raise AudioError(f"{name}: channel {channel} requested but audio has {audio.shape[1]}")
            audio = audio[:, channel]
        else:
            audio = audio.mean(axis=1)
    elif audio.ndim != 1:
        raise AudioError(f"{name}: expected 1-D or [samples, channels] audio, got shape {audio.shape}")
    if native_sr != sample_rate:
        audio = soxr.resample(audio, native_sr, sample_rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(audio)


def as_waveform(source: AudioSource, sample_rate: int) -> np.ndarray:
    """Anything `transcribe` accepts -> mono float32 at `sample_rate`.

    Arrays and tensors are taken to be at the model's rate already.
    """
    if isinstance(source, torch.Tensor):
        source = source.detach().cpu().numpy()
    if isinstance(source, np.ndarray):
        if source.ndim == 2 and source.shape[0] < source.shape[1]:  # [C, N] as torch audio tends to be
            source = source.T
        return to_mono_resampled(source, sample_rate, sample_rate)
    return load_audio(source, sample_rate)


def audio_info(path: str | Path) -> tuple[int, int, float]:
    """(sample_rate, channels, duration_seconds) without reading samples."""
    try:
        info = sf.info(str(path))
    except Exception as e:
        raise AudioError(f"{path}: cannot read audio header ({e})") from e
    return info.samplerate, info.channels, info.frames / info.samplerate


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV of `audio` (clipped to [-1, 1], so loud augmentations saturate instead of wrapping)."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1, 1), sample_rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def save_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write `audio` as 16-bit WAV atomically: an interrupted run never leaves a truncated file behind."""
    return atomic_write_bytes(path, wav_bytes(audio, sample_rate))
