"""Forced alignment: when the text is known, where each token and word of it was said (as the NeMo Forced
Aligner does). The model's CTC log-probs and the text's tokens go through the Viterbi path of ctc_align;
the result is the pipeline's `Transcript`, so every output format works on it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harken.decoding.ctc_align import AlignmentError
from harken.inference.inputs import as_inputs
from harken.inference.pipeline import Transcriber
from harken.inference.results import Transcript


class _KnownText:
    """A 'search' that returns the given tokens: ctc_decode then aligns them to the log-probs."""

    def __init__(self, ids: list[int]):
        self.ids = ids

    def __call__(self, log_probs) -> list[int]:
        return self.ids


def align(model, items: Any, texts: list[str] | None = None, **options) -> Iterator[Transcript]:
    """Align each input to its text: manifest rows carry theirs (`text`), other inputs take `texts`.
    Characters the model cannot write are dropped, as in evaluation; a text that does not fit the audio
    is an error naming the input."""
    if not hasattr(model, "decode_waves"):
        raise ValueError(f"a {type(model).__name__} labels audio; alignment needs a CTC speech model")
    inputs = as_inputs(items, model.sample_rate)
    if texts is None:
        texts = [(inp.row or {}).get("text") for inp in inputs]
    if len(texts) != len(inputs) or any(t is None for t in texts):
        raise ValueError("every input needs its text (manifest rows have 'text'; otherwise pass texts=)")
    for inp, text in zip(inputs, texts):
        normalized, _ = model.tokenizer.normalize(text)
        transcriber = Transcriber(model, decoding=_KnownText(model.tokenizer.encode(normalized)), batch_size=1,
                                  **options)
        try:
            (result,) = transcriber([inp])
        except AlignmentError as e:
            raise AlignmentError(f"{inp.where or inp.name}: {e}") from None
        yield result
