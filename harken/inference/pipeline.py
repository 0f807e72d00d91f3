"""The transcription pipeline: any audio in, typed results out, in input order, as a generator.

Inputs are taken a window at a time (so a long manifest streams through), sorted by length inside the
window to minimise padding, decoded in batches, and yielded in input order. The model is used only through
its family's narrow surface (`decode_waves`,
`decode_text`, `word_pieces`, `frame_shift`, `sample_rate`), and left in the train/eval state it was in.

Long inputs are first cut where the speaker pauses (inference/pauses.py), and every input where a
`segmenter` (a VAD) says speech is, if one is given; each region is decoded as its own utterance, batched
with the other short work;
regions still longer than `long_audio_s` go through the overlapping-chunk decoder (long_audio.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from harken.core.inference_mode import inference_mode
from harken.decoding.results import DecodedSequence
from harken.inference.inputs import AudioInput, as_inputs
from harken.inference.long_audio import Joined, decode_long
from harken.inference.pauses import split_at_pauses
from harken.inference.results import Hypothesis, Transcript
from harken.inference.words import build_transcript


class Transcriber:
    """`Transcriber(model, decoding=BeamSearchDecoder...)(["a.wav", ...])` yields a `Transcript` per input."""

    def __init__(self, model, decoding=None, batch_size: int = 8, long_audio_s: float = 60.0,
                 chunk_s: float = 30.0, context_s: float = 5.0, segment_gap: float = 0.8,
                 keep_log_probs: bool = False, progress: bool = False, window: int | None = None,
                 split_at_pauses: bool = True, segmenter=None):
        if not hasattr(model, "decode_waves"):
            raise ValueError(f"a {type(model).__name__} labels audio, it does not transcribe speech: "
                             "use model.classify / model.spans")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model, self.decoding, self.batch_size = model, decoding, batch_size
        self.long_audio_s, self.chunk_s, self.context_s = long_audio_s, chunk_s, context_s
        self.segment_gap, self.keep_log_probs, self.progress = segment_gap, keep_log_probs, progress
        self.window = window or batch_size * 64  # inputs sorted together; results wait at most this long
        self.split_at_pauses, self.segmenter = split_at_pauses, segmenter

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
        sr, shift = self.model.sample_rate, self.model.frame_shift
        seconds = [inp.seconds(sr) for inp in window]
        units: list[tuple[int, int, AudioInput]] = []  # (input, its first frame within the input, audio)
        for i, inp in enumerate(window):
            if seconds[i] <= self.long_audio_s and self.segmenter is None:
                units.append((i, 0, inp))
                continue
            for start, end in self._regions(inp):
                first = int(round(start / shift, 6))  # regions start on the frame grid, so frames shift exactly
                units.append((i, first, _part(inp, first * shift, end - first * shift, sr)))
        unit_seconds = [u.seconds(sr) if u is not window[i] else seconds[i] for i, _, u in units]
        decoded: dict[int, DecodedSequence] = {}
        short = sorted((k for k in range(len(units)) if unit_seconds[k] <= self.long_audio_s),
                       key=lambda k: -unit_seconds[k])
        for b in range(0, len(short), self.batch_size):
            idx = short[b:b + self.batch_size]
            waves = [units[k][2].read(sr) for k in idx]
            decoded.update(zip(idx, self._decode_batch(waves)))
        for k in range(len(units)):
            if k in decoded:
                continue
            decoded[k] = decode_long(self.model, units[k][2], self.decoding, self.chunk_s, self.context_s)[0]
        for i, inp in enumerate(window):
            parts = [(first, decoded.pop(k)) for k, (j, first, _) in enumerate(units) if j == i]
            if len(parts) == 1 and parts[0][0] == 0 and seconds[i] <= self.long_audio_s and self.segmenter is None:
                yield inp, parts[0][1], unit_seconds[[j for j, _, _ in units].index(i)]
                continue
            joined = Joined(self.model.word_pieces)
            for first, seq in parts:
                joined.add(seq.shifted(first), merge=False)
            yield inp, joined.result(round(seconds[i] / shift)), seconds[i]

    def _regions(self, inp: AudioInput) -> list[tuple[float, float]]:
        """Where to cut a long input: the segmenter's spans (a VAD), else the speech between pauses."""
        if self.segmenter is not None:
            return list(self.segmenter(inp))
        if not self.split_at_pauses:
            return [(0.0, inp.seconds(self.model.sample_rate))]
        return split_at_pauses(inp, self.model.sample_rate)

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


def _part(inp: AudioInput, start: float, duration: float, sample_rate: int) -> AudioInput:
    """`duration` seconds of an input from `start` seconds into it."""
    if isinstance(inp.source, np.ndarray):
        a = round(start * sample_rate)
        return AudioInput(inp.source[a:a + round(duration * sample_rate)], where=inp.where)
    return AudioInput(inp.source, inp.offset + start, duration, inp.where)


def _progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="transcribe", unit="file")
