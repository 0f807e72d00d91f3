"""The transcription pipeline: any audio in, typed results out, in input order, as a generator.

Inputs are taken a window at a time (so a long manifest streams through), sorted by length inside the
window to minimise padding, decoded in batches, and yielded in input order. Recordings longer than
`long_audio_s` go through `long_audio.decode_long`, which reads and encodes them in overlapping chunks
in bounded memory. The model is used only through its family's narrow surface (`decode_waves`,
`decode_text`, `word_pieces`, `frame_shift`, `sample_rate`), and left in the train/eval state it was in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from harken.core.inference_mode import inference_mode
from harken.decoding.results import DecodedSequence
from harken.inference.inputs import AudioInput, as_inputs
from harken.inference.results import Hypothesis, Transcript
from harken.inference.words import build_transcript


class Transcriber:
    """`Transcriber(model, decoding=BeamSearchDecoder...)(["a.wav", ...])` yields a `Transcript` per input."""

    def __init__(self, model, decoding=None, batch_size: int = 8, long_audio_s: float = 60.0,
                 chunk_s: float = 30.0, context_s: float = 5.0, segment_gap: float = 0.8,
                 keep_log_probs: bool = False, progress: bool = False, window: int | None = None):
        if not hasattr(model, "decode_waves"):
            raise ValueError(f"a {type(model).__name__} labels audio, it does not transcribe speech: "
                             "use model.classify / model.spans")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model, self.decoding, self.batch_size = model, decoding, batch_size
        self.long_audio_s, self.chunk_s, self.context_s = long_audio_s, chunk_s, context_s
        self.segment_gap, self.keep_log_probs, self.progress = segment_gap, keep_log_probs, progress
        self.window = window or batch_size * 8

    def __call__(self, audio: Any) -> Iterator[Transcript]:
        for inp, seq, seconds in self.decode(audio):
            yield self.transcript(inp, seq, seconds)

    def transcript(self, inp: AudioInput, seq: DecodedSequence, seconds: float) -> Transcript:
        m = self.model
        return build_transcript(seq, m.decode_text(seq), m.word_pieces, m.frame_shift, seconds, inp.name,
                                offset=inp.offset, segment_gap=self.segment_gap)

    def decode(self, audio: Any) -> Iterator[tuple[AudioInput, DecodedSequence, float]]:
        """(input, decoded tokens, seconds of audio) per input, in input order."""
        inputs = as_inputs(audio, self.model.sample_rate)
        bar = _progress(len(inputs)) if self.progress else None
        with inference_mode(self.model):
            for start in range(0, len(inputs), self.window):
                window = inputs[start:start + self.window]
                yield from self._decode_window(window)
                if bar is not None:
                    bar.update(len(window))
        if bar is not None:
            bar.close()

    def _decode_window(self, window: list[AudioInput]):
        sr = self.model.sample_rate
        seconds = [inp.seconds(sr) for inp in window]
        results: dict[int, tuple[DecodedSequence, float]] = {}
        short = [i for i in range(len(window)) if seconds[i] <= self.long_audio_s or not _is_file(window[i])]
        short.sort(key=lambda i: -seconds[i])
        for b in range(0, len(short), self.batch_size):
            idx = short[b:b + self.batch_size]
            waves = [window[i].read(sr) for i in idx]
            for i, w, seq in zip(idx, waves, self._decode_batch(waves)):
                results[i] = (seq, len(w) / sr)
        for i, inp in enumerate(window):
            if i not in results:
                from harken.inference.long_audio import decode_long

                results[i] = decode_long(self.model, inp, self.decoding, self.chunk_s, self.context_s)
            seq, secs = results.pop(i)
            yield inp, seq, secs

    def _decode_batch(self, waves: list[np.ndarray]) -> list[DecodedSequence]:
        lengths = torch.tensor([len(w) for w in waves], dtype=torch.long)
        batch = torch.zeros(len(waves), max(int(lengths.max()), 1))
        for row, w in zip(batch, waves):
            row[: len(w)] = torch.from_numpy(w)
        device = self.model.device
        return self.model.decode_waves(batch.to(device), lengths.to(device), self.decoding, self.keep_log_probs)


def transcribe_hypotheses(model, audio: Any, batch_size: int = 8, decoding=None, progress: bool = False,
                          timestamps: bool = False, keep_log_probs: bool = False) -> list:
    """What `model.transcribe` returns: NeMo-shaped hypotheses (text, ids, score, timestamps) in input order."""
    from harken.decoding.timestamps import nemo_timestamps

    tr = Transcriber(model, decoding, batch_size=batch_size, keep_log_probs=keep_log_probs, progress=progress)
    out = []
    for inp, seq, seconds in tr.decode(audio):
        lp = torch.from_numpy(seq.log_probs) if seq.log_probs is not None else None
        hyp = Hypothesis(model.decode_text(seq), list(seq.token_ids), seq.score, lp, model.frame_shift)
        if timestamps:
            kind = getattr(model, "timestamp_kind", "ctc")  # transducers: "rnnt" / "tdt"
            hyp.timestamp = nemo_timestamps(seq, model.word_pieces, model.frame_shift, kind)
            hyp.transcript = tr.transcript(inp, seq, seconds)
        out.append(hyp)
    return out


def _is_file(inp: AudioInput) -> bool:
    return not isinstance(inp.source, np.ndarray)


def _progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="transcribe", unit="file")
