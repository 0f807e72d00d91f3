"""Audio for the runtime without torch: mono float32 at the model's rate, read as `harken.audio.io` reads it
(soundfile, channels averaged, soxr "HQ" resampling), so both pipelines see the same samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

AudioLike = str | Path | np.ndarray


def read_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """A file -> float32 mono samples at `sample_rate`."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: audio file not found")
    try:
        audio, native = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types
        raise ValueError(f"{path}: cannot read audio ({e})") from e
    return resample(audio.mean(axis=1), native, sample_rate)


def resample(audio: np.ndarray, native: int, sample_rate: int) -> np.ndarray:
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if native == sample_rate:
        return audio
    import soxr

    return soxr.resample(audio, native, sample_rate, quality="HQ").astype(np.float32)


def as_samples(item: AudioLike, sample_rate: int) -> tuple[np.ndarray, str]:
    """A path or an array already at `sample_rate` -> (samples, name for results)."""
    if isinstance(item, np.ndarray):
        wave = item.T if item.ndim == 2 and item.shape[0] < item.shape[1] else item  # [channels, samples]
        wave = wave.mean(axis=1) if wave.ndim == 2 else wave
        return np.ascontiguousarray(wave, dtype=np.float32), f"<array of {len(wave)} samples>"
    return read_audio(item, sample_rate), str(item)
