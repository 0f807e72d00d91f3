"""Greedy CTC decoding: best class per frame, collapse repeats, drop blanks.

Each token keeps the frame where its run starts, the run's length and its best log-probability there.
"""

from __future__ import annotations

import torch

from harken.decoding.ctc_runs import collapse, runs  # noqa: F401  (torch-free; re-exported here)
from harken.decoding.results import DecodedSequence


def ctc_greedy_batch(log_probs: torch.Tensor, lengths: torch.Tensor, blank_id: int,
                     keep_log_probs: bool = False) -> list[DecodedSequence]:
    """[B, T, V] log-probs and [B] valid frame counts -> one DecodedSequence per row."""
    best_lp, best = log_probs.float().max(dim=-1)
    best, best_lp = best.cpu().numpy(), best_lp.cpu().numpy()
    out = []
    for b, n in enumerate(lengths.cpu().tolist()):
        seq = runs(best[b, :n], best_lp[b, :n], blank_id)
        if keep_log_probs:
            seq.log_probs = log_probs[b, :n].float().cpu().numpy()
        out.append(seq)
    return out


def ctc_greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, blank_id: int) -> list[list[int]]:
    """[B, T, V] scores and [B] valid frame counts -> token ids per row."""
    best = log_probs.argmax(dim=-1).cpu()
    return [collapse(row[: int(n)].tolist(), blank_id) for row, n in zip(best, lengths.cpu())]
