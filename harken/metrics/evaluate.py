"""Evaluate a model on a manifest: corpus WER/CER and per-utterance predictions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harken.data.manifest import ManifestEntry, read_manifest
from harken.metrics.wer import ErrorCounts, char_errors, word_errors


@dataclass
class EvalResult:
    manifest: str
    utterances: int
    hours: float
    chars: ErrorCounts = field(default_factory=ErrorCounts)
    predictions: list[dict] = field(default_factory=list)  # manifest rows with `pred_text`, `wer`
    utterance_words: list[ErrorCounts] = field(default_factory=list)  # word errors of each row, for pairing
    failed: list[str] = field(default_factory=list)  # `manifest:line: why` of rows that could not be scored
    details: list[dict] = field(default_factory=list)  # with `details=True`: per row, what a result page shows

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
        if self.failed:
            rows.insert(2, ("failed", f"{len(self.failed)} rows could not be read: not scored (see above)"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def evaluate(model, manifest: str | Path, batch_size: int = 8, progress: bool = False, decoding=None,
             on_row: Callable[[dict], None] | None = None, on_error: Callable[[object, str], bool] | None = None,
             details: bool = False, **kwargs) -> EvalResult:
    """`decoding` as in `CTCModel.transcribe` (greedy without one; `decoder=` is its old name). Rows with
    `offset`/`duration` are read as those segments, when their batch is due.

    `on_row(prediction)` sees each scored row as soon as it is done (to write it out before the end);
    `on_error(input, message)` makes a row that cannot be read a reported failure (True: go on) instead of
    the end of the run. An empty manifest is an error: it has no WER. `details=True` also keeps, per scored
    row in `result.details`, the normalised reference, the row's CER and each hypothesis word's confidence
    (for `harken eval --report`); the prediction rows themselves are unchanged."""
    from harken.inference.isolation import decode_each
    from harken.inference.pipeline import Transcriber

    decoding = decoding or kwargs.pop("decoder", None)
    if kwargs:
        raise TypeError(f"evaluate() got unexpected arguments: {sorted(kwargs)}")
    entries: list[ManifestEntry] = read_manifest(manifest)
    if not entries:
        raise ValueError(f"{manifest}: the manifest has no rows: nothing to evaluate")
    transcriber = Transcriber(model, decoding, batch_size=batch_size, progress=progress)
    result = EvalResult(str(manifest), 0, 0.0)
    if on_error is None:
        decoded = ((entry, seq) for entry, (_, seq, _) in zip(entries, transcriber.decode(entries)))
    else:
        def failed(inp, message: str) -> bool:
            result.failed.append(message)
            return on_error(inp, message)

        decoded = ((entries[inp.index], seq) for inp, seq, _ in decode_each(transcriber, entries, failed))
    for entry, seq in decoded:
        row = _score(model, entry, seq, result, details)
        if on_row is not None:
            on_row(row)
    return result


def _score(model, entry: ManifestEntry, seq, result: EvalResult, details: bool) -> dict:
    """Add one row's errors to `result`; returns its prediction row."""
    hyp = model.decode_text(seq)
    ref, _ = model.tokenizer.normalize(entry.text)
    we, ce = word_errors(ref, hyp), char_errors(ref, hyp)
    result.utterances += 1
    result.hours += entry.duration / 3600
    result.utterance_words.append(we)
    result.chars += ce
    if details:
        result.details.append({"reference": ref, "cer": round(ce.rate, 4), "words": _word_confidences(model, seq)})
    row = {"audio_filepath": entry.audio_filepath, "duration": entry.duration, "text": entry.text,
           **entry.extra, "pred_text": hyp, "wer": round(we.rate, 4)}
    if entry.offset:
        row["offset"] = entry.offset
    result.predictions.append(row)
    return row


def _word_confidences(model, seq) -> list[tuple[str, float]]:
    """(word, confidence) of the hypothesis, as a Transcript's words have them (harken.inference.words)."""
    from harken.inference.words import tokens_of, words_of

    return [(w.word, round(w.confidence, 4)) for w in words_of(tokens_of(seq, model.word_pieces, model.frame_shift))]
