"""One bad input costs only its own result: `decode_each` runs a Transcriber over many inputs, reports each
one that fails (`where: message`) through a callback, and goes on with the rest.

Two layers, so the common case stays batched: inputs are `GuardedInput`s, whose unreadable audio is noted
instead of raised (the batch goes on); anything else that escapes the pipeline (a long recording corrupt
in the middle, a model error) makes the failed stretch run one input at a time until the culprit is found,
then batches resume.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from harken.inference.inputs import GuardedInput, guarded

ITEM_ERRORS = (ValueError, OSError, RuntimeError, MemoryError, EOFError)
OnError = Callable[[GuardedInput, str], bool]  # report one failure; False stops the run


def decode_each(transcriber, items: list[Any], on_error: OnError) -> Iterator[tuple]:
    """(input, decoded sequence, seconds) for every input that works, in input order; `input.index` is its
    position in `items`."""
    pending = [guarded(item, transcriber.model.sample_rate, k) for k, item in enumerate(items)]
    while pending:
        done = 0
        try:
            for inp, seq, seconds in transcriber.decode(pending):
                done += 1
                if inp.error is None:
                    yield inp, seq, seconds
                elif not on_error(inp, inp.error):
                    return
            return
        except ITEM_ERRORS:
            pending = pending[done:]
        pending = yield from _one_by_one(transcriber, pending, on_error)


def _one_by_one(transcriber, pending: list[GuardedInput], on_error: OnError):
    """Decode singly until an input fails (reported) or a whole window passes; returns what is left."""
    progress, transcriber.progress = transcriber.progress, False
    try:
        for k, inp in enumerate(pending[:transcriber.window]):
            try:
                ((inp, seq, seconds),) = list(transcriber.decode([inp]))
                error = inp.error
            except ITEM_ERRORS as e:
                error = _message(inp, e)
            if error is None:
                yield inp, seq, seconds
                continue
            return pending[k + 1:] if on_error(inp, error) else []
        return pending[transcriber.window:]
    finally:
        transcriber.progress = progress


def _message(inp: GuardedInput, e: BaseException) -> str:
    """The error's text, led by the input's manifest line or name unless it already names it."""
    text = "out of memory" if isinstance(e, MemoryError) else str(e) or type(e).__name__
    if isinstance(e, RuntimeError):
        text = f"{type(e).__name__}: {text.splitlines()[0][:300]}"
    lead = inp.where or inp.name
    return text if text.startswith(lead) or (inp.name and inp.name in text) else f"{lead}: {text}"
