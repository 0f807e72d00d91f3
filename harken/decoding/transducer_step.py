"""The step protocol transducer decoding talks to, so the same search runs over torch heads
(`harken.modules.rnnt.TransducerHeads`) or over exported graphs (an ONNX prediction network and joint).

A transducer decodes by alternating two calls: `predict` (feed the last emitted token to the prediction
network) and `joint` (combine one encoder frame with the current prediction into scores over the tokens,
the blank and, for TDT, the durations). Searches never touch modules, only this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch


class TransducerStep(Protocol):
    blank_id: int  # the blank's index in the token part of the joint output (the last token index)
    durations: Sequence[int]  # TDT: the frame skips the extra joint outputs stand for, in order; RNNT: empty

    def encoder_frames(self, encoded: torch.Tensor) -> torch.Tensor:
        """Encoder output [B, C, T] -> per-frame joint inputs [B, T, H] (e.g. the joint's encoder projection,
        applied once per frame instead of once per step)."""
        ...

    def predict(self, tokens: torch.Tensor, state: Any | None) -> tuple[torch.Tensor, Any]:
        """Tokens [B] (the blank with `state` None: the start of an utterance) -> (prediction [B, H'],
        new state). States are opaque to the search."""
        ...

    def joint(self, frames: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """Frame inputs [B, H] and predictions [B, H'] -> raw scores [B, blank_id + 1 + len(durations)]."""
        ...

    def merge_states(self, new: Any, old: Any, take_new: torch.Tensor) -> Any:
        """Per row: `new` where take_new [B] is True, else `old` (rows that emitted nothing keep theirs)."""
        ...


class TransducerSearch(Protocol):
    """A transducer search: `search(step, encoded [B, C, T], lengths [B]) -> list[DecodedSequence]`.
    `transducer_search = True` tells it apart from a CTC search (log-probs -> ids) given to the same
    `decoding=` argument, so handing one to the wrong head fails with a clear message."""

    transducer_search: bool

    def __call__(self, step: TransducerStep, encoded: torch.Tensor, lengths: torch.Tensor) -> list: ...
