"""Greedy CTC decoding: best class per frame, collapse repeats, drop blanks.

Each token keeps the frame where its run starts, the run's length and its best log-probability there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from harken.decoding.results import DecodedSequence


def collapse(frame_ids: Sequence[int], blank_id: int) -> list[int]:
    """[a, a, blank, a, b, b] -> [a, a, b]: repeats merge unless a blank separates them."""
    out: list[int] = []
    prev = None
    for i in frame_ids:
        if i != prev and i != blank_id:
            out.append(int(i))
        prev = i
    return out


def runs(best: np.ndarray, best_lp: np.ndarray, blank_id: int) -> DecodedSequence:
    """One utterance's per-frame best ids and their log-probs -> tokens with start frame, run length and
    the run's highest log-prob. The score sums the non-blank frames' log-probs, as NeMo's greedy score does."""
    ids, frames, durations, lps = [], [], [], []
    prev = -1
    for t, (k, lp) in enumerate(zip(best.tolist(), best_lp.tolist())):
        if k != blank_id:
            if k == prev:
                durations[-1] += 1
                lps[-1] = max(lps[-1], lp)
            else:
                ids.append(k)
                frames.append(t)
                durations.append(1)
                lps.append(lp)
        prev = k
    return DecodedSequence(ids, frames, durations, lps, float(best_lp[best != blank_id].sum()), len(best))


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
