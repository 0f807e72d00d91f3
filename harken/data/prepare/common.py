"""Shared pieces of corpus preparation: audio conversion and manifest rows."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from harken.audio.io import audio_info, load_audio, save_wav
from harken.data.manifest import ManifestEntry, read_lines, write_manifest

SAMPLE_RATE = 16000


def to_wav(src: Path, dst: Path, sample_rate: int = SAMPLE_RATE) -> float:
    """Convert any readable audio to 16-bit mono WAV (atomically, once); returns its duration."""
    if dst.exists():
        return sf.info(str(dst)).duration
    audio = load_audio(src, sample_rate)
    save_wav(dst, audio, sample_rate)
    return len(audio) / sample_rate


def entry(audio: Path, text: str, duration: float | None = None, **extra) -> ManifestEntry:
    if duration is None:
        duration = audio_info(audio)[2]
    return ManifestEntry(str(audio.resolve()), round(float(duration), 3), text, extra=extra)


def text_lines(path: Path) -> list[str]:
    """The lines of a transcript or list file; bytes that are not UTF-8 are an error naming file and line."""
    return [line.rstrip("\r\n") for _, line in read_lines(path, "transcript file")]


def write_splits(dst: Path, splits: dict[str, list[ManifestEntry]]) -> dict[str, Path]:
    return {name: write_manifest(dst / f"{name}_manifest.json", rows) for name, rows in splits.items() if rows}


def progress_bar(items, desc: str, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="file")
