"""One way in for audio: paths, arrays, tensors and manifest rows (with `offset`/`duration`) become
`AudioInput`s, read only when their batch is due, so a long manifest never sits in memory at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harken.audio.io import AudioError, audio_info, is_tensor, load_audio, to_mono_resampled
from harken.data.manifest import ManifestEntry


@dataclass
class AudioInput:
    """Something to transcribe: a file (or the part of it from `offset` for `duration` seconds) or samples
    already at the model's rate. `where` names it in messages (a manifest's file and line)."""

    source: str | Path | np.ndarray
    offset: float = 0.0
    duration: float | None = None
    where: str = ""
    row: dict | None = None  # the manifest row it came from, kept for outputs that echo it

    @property
    def name(self) -> str:
        if isinstance(self.source, np.ndarray):
            return self.where or f"<array of {len(self.source)} samples>"
        return str(self.source)

    def seconds(self, sample_rate: int) -> float:
        """Length in seconds without reading samples (0 when the header cannot be read: the read will say why)."""
        if isinstance(self.source, np.ndarray):
            return len(self.source) / sample_rate
        try:
            total = audio_info(self.source)[2]
        except AudioError:
            return 0.0
        left = max(total - self.offset, 0.0)
        return left if self.duration is None else min(left, self.duration)

    def read(self, sample_rate: int) -> np.ndarray:
        """Mono float32 samples at `sample_rate`."""
        if isinstance(self.source, np.ndarray):
            return self.source
        try:
            return load_audio(self.source, sample_rate, self.offset, self.duration)
        except AudioError as e:
            raise AudioError(f"{self.where}: {e}" if self.where else str(e)) from None


@dataclass
class GuardedInput(AudioInput):
    """An input whose unreadable audio is recorded in `error` instead of raised, so one bad file does not
    take its batch's other results with it: it decodes as a moment of silence, and the caller reports
    `error` and drops that result."""

    error: str | None = None
    index: int = -1  # its position in the caller's list

    def read(self, sample_rate: int) -> np.ndarray:
        try:
            return super().read(sample_rate)
        except (AudioError, MemoryError) as e:
            self.error = str(e) if isinstance(e, AudioError) else f"{self.where or self.name}: out of memory"
            return np.zeros(sample_rate // 10, dtype=np.float32)


def guarded(item: Any, sample_rate: int, index: int = -1) -> GuardedInput:
    """`as_input` whose reads fail softly (see GuardedInput)."""
    inp = as_input(item, sample_rate)
    return GuardedInput(inp.source, inp.offset, inp.duration, inp.where, inp.row, index=index)


def as_input(item: Any, sample_rate: int) -> AudioInput:
    """Path, array/tensor (taken to be at `sample_rate`), manifest dict or ManifestEntry -> AudioInput."""
    if isinstance(item, AudioInput):
        return item
    if isinstance(item, ManifestEntry):
        row = {**item.to_dict(), **item.extra}
        return AudioInput(item.audio_filepath, item.offset, _segment(item.offset, item.duration), item.where, row)
    if isinstance(item, dict):
        if "audio_filepath" not in item:
            raise ValueError(f"audio input dict has no 'audio_filepath': keys are {sorted(item)}")
        offset = float(item.get("offset") or 0.0)
        return AudioInput(str(item["audio_filepath"]), offset, _segment(offset, item.get("duration")),
                          str(item.get("where", "")), item)
    if is_tensor(item):
        item = item.detach().cpu()
        item = (item.float() if item.is_floating_point() else item).numpy()  # integers scale, booleans are refused
    if isinstance(item, np.ndarray):
        if item.ndim == 2 and item.shape[0] < item.shape[1]:  # [channels, samples] as torch audio tends to be
            item = item.T
        samples = to_mono_resampled(item, sample_rate, sample_rate)
        if not len(samples):
            raise AudioError(f"<array of shape {item.shape}>: no samples to transcribe")
        return AudioInput(samples)
    if isinstance(item, (str, Path)):
        return AudioInput(str(item))
    raise TypeError(f"cannot transcribe a {type(item).__name__}: give paths, arrays, tensors or manifest rows")


def _segment(offset: float, duration) -> float | None:
    """A row's `duration` cuts the read only when the row is a segment (has an `offset`): without one it
    describes the whole file, and manifests often round it."""
    return float(duration) if offset and duration else None


def as_inputs(audio: Any, sample_rate: int) -> list[AudioInput]:
    """One item or many -> AudioInputs (a single path, array or tensor counts as one item)."""
    if isinstance(audio, (str, Path, np.ndarray, dict, ManifestEntry, AudioInput)) or is_tensor(audio):
        audio = [audio]
    return [as_input(item, sample_rate) for item in _iterable(audio)]


def _iterable(audio: Any) -> Iterable:
    try:
        return iter(audio)
    except TypeError:
        raise TypeError(f"cannot transcribe a {type(audio).__name__}: give paths, arrays, tensors or "
                        "manifest rows") from None
