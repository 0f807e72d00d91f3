"""How the runtime recognizers walk their inputs: a window of inputs read at a time, sorted by length inside
it so batches carry little padding, results given back in input order (as `harken.Transcriber` does)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from harken.decoding.results import DecodedSequence
from harken.runtime.audio import AudioLike, as_samples

BatchDecoder = Callable[[list[np.ndarray]], list[DecodedSequence]]


def items_of(audio: AudioLike | Sequence[AudioLike]) -> list:
    return [audio] if isinstance(audio, (str, Path, np.ndarray)) else list(audio)


def decode_sorted(audio: AudioLike | Sequence[AudioLike], sample_rate: int, batch_size: int,
                  decode_batch: BatchDecoder) -> Iterator[tuple[str, DecodedSequence, float]]:
    """(name, decoded sequence, seconds) per input, in input order; `decode_batch` gets up to `batch_size`
    waveforms of similar length. Inputs are read 8 batches at a time, so a long list streams through."""
    items = items_of(audio)
    step = batch_size * 8
    for first in range(0, len(items), step):
        waves = [as_samples(item, sample_rate) for item in items[first:first + step]]
        order = sorted(range(len(waves)), key=lambda i: -len(waves[i][0]))
        done: dict[int, DecodedSequence] = {}
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            done.update(zip(idx, decode_batch([waves[i][0] for i in idx])))
        for i, (wave, name) in enumerate(waves):
            yield name, done.pop(i), len(wave) / sample_rate
