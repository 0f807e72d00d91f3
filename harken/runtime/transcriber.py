"""`harken.Transcriber`'s surface over a runtime recognizer, so the command line's writers (listings,
srt/json/... files, per-input error isolation) run an exported model unchanged: `harken transcribe
--runtime onnx`.

Inputs are anything with `read(sample_rate)`, `name` and `offset` (the pipeline's `AudioInput`s), paths or
arrays; they are read a window at a time and the recognizer batches them by length. Recordings are decoded
whole (the torch pipeline's pause splitting and chunking of long audio are not in the runtime).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from harken.decoding.results import DecodedSequence
from harken.inference.results import Transcript
from harken.inference.words import build_transcript
from harken.runtime.audio import as_samples


class RuntimeTranscriber:
    """`RuntimeTranscriber(load_recognizer("exported/"))(["a.wav"])` yields a `Transcript` per input."""

    def __init__(self, recognizer, segment_gap: float = 0.8, progress: bool = False, window: int | None = None):
        self.model = recognizer  # what the writers read: sample_rate, decode_text, word_pieces, frame_shift
        self.segment_gap, self.progress = segment_gap, progress
        self.window = window or recognizer.batch_size * 8

    def __call__(self, audio: Iterable[Any]) -> Iterator[Transcript]:
        for inp, seq, seconds in self.decode(audio):
            yield self.transcript(inp, seq, seconds)

    def decode(self, inputs: Iterable[Any]) -> Iterator[tuple[Any, DecodedSequence, float]]:
        """(input, decoded tokens, seconds of audio) per input, in input order."""
        items = list(inputs)
        rate = self.model.sample_rate
        for first in range(0, len(items), self.window):
            chunk = items[first:first + self.window]
            waves = [inp.read(rate) if hasattr(inp, "read") else as_samples(inp, rate)[0] for inp in chunk]
            for inp, (_, seq, seconds) in zip(chunk, self.model.decode(waves)):
                yield inp, seq, seconds

    def transcript(self, inp: Any, seq: DecodedSequence, seconds: float) -> Transcript:
        m = self.model
        name = getattr(inp, "name", None) or str(inp)
        return build_transcript(seq, m.decode_text(seq), m.word_pieces, m.frame_shift, seconds, name,
                                offset=getattr(inp, "offset", 0.0), segment_gap=self.segment_gap)
