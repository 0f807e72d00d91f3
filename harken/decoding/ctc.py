"""CTC decoding strategies behind one call: greedy, or any search that maps one utterance's log-probs to
token ids (prefix beam search with an LM and hotwords). A search's tokens get their frames from the best
CTC alignment of that text (ctc_align), so beam results carry timestamps exactly as greedy ones do."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from harken.decoding.ctc_greedy import ctc_greedy_batch
from harken.decoding.results import DecodedSequence

Search = Callable[[np.ndarray | torch.Tensor], list[int]]


def ctc_decode(log_probs: torch.Tensor, lengths: torch.Tensor, blank_id: int, search: Search | None = None,
               keep_log_probs: bool = False) -> list[DecodedSequence]:
    """[B, T, V] log-probs and [B] valid frames -> one DecodedSequence per row (greedy without `search`)."""
    if search is None:
        return ctc_greedy_batch(log_probs, lengths, blank_id, keep_log_probs)
    from harken.decoding.ctc_align import ctc_align

    out = []
    for lp, n in zip(log_probs, lengths.tolist()):
        lp = lp[:n].float().cpu().numpy()
        seq = ctc_align(lp, search(lp), blank_id)
        if keep_log_probs:
            seq.log_probs = lp
        out.append(seq)
    return out
