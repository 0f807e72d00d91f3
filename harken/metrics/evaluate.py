"""Evaluate a model on a manifest: corpus WER/CER and per-utterance predictions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from harken.data.manifest import ManifestEntry, read_manifest
from harken.metrics.wer import ErrorCounts, char_errors, word_errors
from harken.models.ctc_model import ASRModel


@dataclass
class EvalResult:
    manifest: str
    utterances: int
    hours: float
    chars: ErrorCounts = field(default_factory=ErrorCounts)
    predictions: list[dict] = field(default_factory=list)  # manifest rows with `pred_text`, `wer`
    utterance_words: list[ErrorCounts] = field(default_factory=list)  # word errors of each row, for pairing

    @property
    def words(self) -> ErrorCounts:
        """Corpus word errors: the sum over utterances, so the two can never disagree."""
        total = ErrorCounts()
        for errors in self.utterance_words:
            total += errors
        return total

    @property
    def empty_outputs(self) -> int:
        """Utterances with words to say that came out as nothing: the first sign of a collapsed model."""
        return sum(1 for row in self.predictions if row["text"].strip() and not row["pred_text"].strip())

    @property
    def wer(self) -> float:
        return self.words.rate

    @property
    def cer(self) -> float:
        return self.chars.rate

    def table(self) -> str:
        w, c = self.words, self.chars
        rows = [
            ("manifest", self.manifest),
            ("utterances", f"{self.utterances} ({self.hours * 60:.1f} min)"),
            ("WER", f"{100 * self.wer:.2f}%  ({w.errors}/{w.reference_length}: "
                    f"{w.substitutions} sub, {w.deletions} del, {w.insertions} ins)"),
            ("CER", f"{100 * self.cer:.2f}%  ({c.errors}/{c.reference_length})"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def evaluate(model: ASRModel, manifest: str | Path, batch_size: int = 8, progress: bool = False,
             decoder: Callable[[torch.Tensor], list[int]] | None = None) -> EvalResult:
    """`decoder` as in `ASRModel.transcribe` (greedy without one)."""
    entries: list[ManifestEntry] = read_manifest(manifest)
    sources = [_slice(e, model.sample_rate) for e in entries]
    hyps = model.transcribe(sources, batch_size=batch_size, progress=progress, decoder=decoder)
    result = EvalResult(str(manifest), len(entries), sum(e.duration for e in entries) / 3600)
    for entry, hyp in zip(entries, hyps):
        ref, _ = model.tokenizer.normalize(entry.text)
        we = word_errors(ref, hyp)
        result.utterance_words.append(we)
        result.chars += char_errors(ref, hyp)
        row = {"audio_filepath": entry.audio_filepath, "duration": entry.duration, "text": entry.text,
               **entry.extra, "pred_text": hyp, "wer": round(we.rate, 4)}
        if entry.offset:
            row["offset"] = entry.offset
        result.predictions.append(row)
    return result


def _slice(entry: ManifestEntry, sample_rate: int):
    """Whole file path, or the waveform of an `offset`/`duration` segment."""
    if not entry.offset:
        return entry.audio_filepath
    from harken.audio.io import load_audio

    return load_audio(entry.audio_filepath, sample_rate, entry.offset, entry.duration)
