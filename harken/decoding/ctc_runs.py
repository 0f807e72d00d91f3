"""Greedy CTC on numpy alone: per-frame best ids -> tokens with frames, run lengths and log-probs.

Kept free of torch so the onnxruntime recognizer (`harken.runtime`) decodes with the very code the torch
pipeline uses; `ctc_greedy` re-exports both functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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


def greedy_sequence(log_probs: np.ndarray, blank_id: int) -> DecodedSequence:
    """[frames, classes] log-probs of one utterance (valid frames only) -> its greedy DecodedSequence."""
    best = log_probs.argmax(axis=-1)
    return runs(best, np.take_along_axis(log_probs, best[:, None], axis=-1)[:, 0], blank_id)
