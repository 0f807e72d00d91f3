"""Reading audio into float32 mono at the model's sample rate, and writing it back as 16-bit WAV.

soundfile reads wav/flac/ogg (and mp3 with libsndfile >= 1.1); soxr resamples. Every failure names
the file, because in a 100k-line manifest "Error opening file" is useless.
"""

from __future__ import annotations

import io
import re
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np
import soundfile as sf
import soxr

from harken.core.atomic import atomic_write_bytes
from harken.core.limits import limit, over, regular_file

if TYPE_CHECKING:
    import torch


class AudioError(ValueError):
    pass


class AudioWarning(UserWarning):
    """Audio that reads, but not as its header promised (a truncated file)."""


_TRUNCATED = re.compile(r"\bdata : (\d+) \(should be (\d+)\)")


AudioSource = Union[str, Path, np.ndarray, "torch.Tensor"]


def is_tensor(x: object) -> bool:
    """A torch tensor, without importing torch (the runtime install has none): a tensor can only exist once
    torch is imported."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


BLOCK_FRAMES = 1 << 20  # frames read at a time, mixed down at once: memory follows the mono length


def load_audio(
    path: str | Path,
    sample_rate: int,
    offset: float = 0.0,
    duration: float | None = None,
    channel: int | None = None,
) -> np.ndarray:
    """Return a float32 mono waveform in [-1, 1] at `sample_rate`.

    `channel=None` averages all channels; an int picks one. `offset`/`duration` in seconds. Refused up
    front: FIFOs and devices, header-only files, absurd sample rates or channel counts, and more than
    HARKEN_MAX_AUDIO_SECONDS in one piece (the pipeline reads longer recordings in blocks).
    """
    path = _audio_file(path)
    try:
        with sf.SoundFile(str(path)) as f:
            native_sr = f.samplerate
            check_format(str(path), native_sr, f.channels)
            if f.frames == 0:
                raise AudioError(f"{path}: no audio samples (a header and nothing else)")
            start = int(round(offset * native_sr))
            if start > f.frames:
                raise AudioError(f"{path}: offset {offset}s is past the end ({f.frames / native_sr:.2f}s)")
            f.seek(start)
            frames = f.frames - start if duration is None else min(int(round(duration * native_sr)), f.frames - start)
            if frames / native_sr > limit("audio_seconds"):
                raise AudioError(str(over("audio_seconds", str(path), frames / native_sr)))
            audio = _read_mono(f, frames, channel, str(path))
            _warn_if_truncated(str(path), f.extra_info, f.frames / native_sr)
    except AudioError:
        raise
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise AudioError(f"{path}: cannot read audio ({e})") from e
    if not len(audio):
        raise AudioError(f"{path}: nothing to read at offset {offset}s")
    return to_mono_resampled(audio, native_sr, sample_rate, name=str(path))


def _warn_if_truncated(name: str, log: str, seconds: float) -> None:
    """libsndfile reads what a cut-off WAV still holds and notes the shortfall in its log: say so."""
    m = _TRUNCATED.search(log or "")
    if m and int(m.group(2)) < int(m.group(1)):
        warnings.warn(f"{name}: truncated (its header promises {m.group(1)} bytes of audio, the file holds "
                      f"{m.group(2)}); using the {seconds:.2f} s there", AudioWarning, stacklevel=3)


def _audio_file(path: str | Path) -> Path:
    """The path of a non-empty regular file, or an AudioError saying what it is instead."""
    try:
        path = regular_file(path, "audio file")
    except (OSError, ValueError) as e:
        raise AudioError(str(e)) from None
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: audio file is empty (0 bytes)")
    return path


def _read_mono(f: sf.SoundFile, frames: int, channel: int | None, name: str) -> np.ndarray:
    """`frames` frames from the file's position, one channel or their mean, in blocks."""
    if channel is not None and not -f.channels <= channel < f.channels:
        raise AudioError(f"{name}: channel {channel} requested but audio has {f.channels}")
    parts = []
    while frames > 0:
        block = f.read(min(frames, BLOCK_FRAMES), dtype="float32", always_2d=True)
        if not len(block):
            break
        frames -= len(block)
        parts.append(block[:, channel] if channel is not None else block.mean(axis=1, dtype=np.float32))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def check_format(name: str, sample_rate: int, channels: int) -> None:
    """Refuse a header's absurd claims before any sample is read: a 1 Hz WAV resampled to 16 kHz is 16000
    times its own size."""
    if not limit("min_sample_rate") <= sample_rate <= limit("max_sample_rate"):
        which = "min_sample_rate" if sample_rate < limit("min_sample_rate") else "max_sample_rate"
        raise AudioError(str(over(which, f"{name}: sample rate", sample_rate)))
    if not 1 <= channels <= limit("channels"):
        raise AudioError(str(over("channels", f"{name}: channel count", channels)))


def to_mono_resampled(
    audio: np.ndarray, native_sr: int, sample_rate: int, channel: int | None = None, name: str = "<array>"
) -> np.ndarray:
    """[N] or [N, C] -> float32 mono [N'] at `sample_rate`. Integer samples are scaled to [-1, 1] as a WAV's
    would be; booleans, complex or non-numeric values and NaN/infinity are refused, never guessed at."""
    audio = _as_float(np.asarray(audio), name)
    if audio.ndim == 2:
        if audio.shape[1] > limit("channels"):
            raise AudioError(str(over("channels", f"{name}: [samples, channels] audio of shape {audio.shape}",
                                      audio.shape[1])))
        if channel is not None:
            if not -audio.shape[1] <= channel < audio.shape[1]:
                raise AudioError(f"{name}: channel {channel} requested but audio has {audio.shape[1]}")
            audio = audio[:, channel]
        else:
            audio = audio.mean(axis=1)
    elif audio.ndim != 1:
        raise AudioError(f"{name}: expected 1-D or [samples, channels] audio, got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise AudioError(f"{name}: holds NaN or infinite samples")
    if native_sr != sample_rate:
        check_format(name, native_sr, 1)
        audio = soxr.resample(audio, native_sr, sample_rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(audio)


def _as_float(audio: np.ndarray, name: str) -> np.ndarray:
    numeric = np.issubdtype(audio.dtype, np.floating) or np.issubdtype(audio.dtype, np.integer)
    if audio.dtype == np.bool_ or not numeric:
        raise AudioError(f"{name}: audio must be numbers (float, or integer PCM), got {audio.dtype} values")
    if np.issubdtype(audio.dtype, np.integer):
        info = np.iinfo(audio.dtype)
        scale = float(info.max) + 1.0 if info.min < 0 else (float(info.max) + 1.0) / 2.0
        shift = 0.0 if info.min < 0 else scale  # unsigned PCM (8-bit WAV) centres on half its range
        return ((audio.astype(np.float64) - shift) / scale).astype(np.float32)
    return audio.astype(np.float32, copy=False)


def as_waveform(source: AudioSource, sample_rate: int) -> np.ndarray:
    """Anything `transcribe` accepts -> mono float32 at `sample_rate`.

    Arrays and tensors are taken to be at the model's rate already.
    """
    if is_tensor(source):
        source = source.detach().cpu().numpy()
    if isinstance(source, np.ndarray):
        if source.ndim == 2 and source.shape[0] < source.shape[1]:  # [C, N] as torch audio tends to be
            source = source.T
        return to_mono_resampled(source, sample_rate, sample_rate)
    return load_audio(source, sample_rate)


def audio_info(path: str | Path) -> tuple[int, int, float]:
    """(sample_rate, channels, duration_seconds) without reading samples."""
    path = _audio_file(path)
    try:
        info = sf.info(str(path))
    except Exception as e:
        raise AudioError(f"{path}: cannot read audio header ({e})") from e
    check_format(str(path), info.samplerate, info.channels)
    return info.samplerate, info.channels, info.frames / info.samplerate


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV of `audio` (clipped to [-1, 1], so loud augmentations saturate instead of wrapping)."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1, 1), sample_rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def save_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write `audio` as 16-bit WAV atomically: an interrupted run never leaves a truncated file behind."""
    return atomic_write_bytes(path, wav_bytes(audio, sample_rate))
