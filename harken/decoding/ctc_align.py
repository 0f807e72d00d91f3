"""CTC forced alignment: the single most likely frame path (Viterbi) that collapses to a known token sequence.

The path runs over 2U+1 states: a blank before, between and after the U tokens (even states) and the tokens
themselves (odd states). Each frame a state either stays, advances by one, or skips the blank between two
tokens, which is allowed only when they differ (two equal tokens in a row need a blank frame between them).
Frames are stepped through in Python, each step is one vectorised numpy update over all states. Backpointers
are one byte per frame and state, so memory is T x (2U+1) bytes; over `MAX_CELLS` the call is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harken.decoding.results import DecodedSequence

MAX_CELLS = 400_000_000  # frames x states of the backpointer table (1 byte each)


class AlignmentError(ValueError):
    """The text cannot be aligned to these log-probs (too short, too long to hold in memory, bad ids)."""


def min_frames(token_ids: Sequence[int]) -> int:
    """Frames the shortest path needs: one per token, plus a blank between each pair of equal neighbours."""
    ids = list(token_ids)
    return len(ids) + sum(a == b for a, b in zip(ids, ids[1:]))


def ctc_align(log_probs: np.ndarray, token_ids: Sequence[int], blank_id: int) -> DecodedSequence:
    """Best CTC path through `log_probs` [T, V] (natural-log probabilities) that collapses to `token_ids`.

    Returns each token's first frame, its run length in frames, its best log-prob over that run, and the
    path's total log-probability (every frame, blanks included) as `score`.
    """
    lp = np.asarray(log_probs)
    if lp.ndim != 2:
        raise AlignmentError(f"log_probs must be [frames, classes], got shape {lp.shape}")
    T, V = lp.shape
    ids = [int(i) for i in token_ids]
    if not 0 <= blank_id < V:
        raise AlignmentError(f"blank id {blank_id} is outside the {V} classes of log_probs")
    bad = [i for i in ids if not 0 <= i < V or i == blank_id]
    if bad:
        raise AlignmentError(f"token id {bad[0]} is the blank or outside the {V} classes of log_probs")
    U = len(ids)
    if U == 0:
        return DecodedSequence([], [], [], [], float(lp[:, blank_id].astype(np.float64).sum()), T)
    S = 2 * U + 1
    if T * S > MAX_CELLS:
        raise AlignmentError(f"{T} frames x {S} states exceeds the {MAX_CELLS:,}-cell alignment limit: "
                             f"split the audio (and its text) into shorter pieces")
    need = min_frames(ids)
    if need > T:
        raise AlignmentError(f"text needs at least {need} frames ({U} tokens plus a blank between repeats) "
                             f"but the audio has only {T}")

    ext = np.full(S, blank_id, dtype=np.int64)
    ext[1::2] = ids
    skip = np.zeros(S, dtype=bool)  # state s may be entered from s - 2
    skip[3::2] = ext[3::2] != ext[1:-2:2]
    neg = -np.inf

    alpha = np.full(S, neg)
    alpha[0] = lp[0, blank_id]
    alpha[1] = lp[0, ext[1]]
    back = np.zeros((T, S), dtype=np.uint8)
    one, two = np.full(S, neg), np.full(S, neg)  # best score reachable by a one-state / two-state move
    no_skip = ~skip
    for t in range(1, T):
        one[1:] = alpha[:-1]
        two[2:] = alpha[:-2]
        two[no_skip] = neg
        choice = back[t]  # strict comparisons: ties prefer staying, then the one-state move
        np.greater(one, alpha, out=choice)
        best = np.maximum(alpha, one)
        choice[two > best] = 2
        alpha = np.maximum(best, two, out=best)
        alpha += lp[t, ext]

    # End in the final blank or the final token, whichever scores higher.
    s = S - 1 if alpha[S - 1] >= alpha[S - 2] else S - 2
    score = float(alpha[s])
    if not np.isfinite(score):  # only when the log-probs themselves hold -inf on every usable path
        raise AlignmentError("no path with finite log-probability collapses to this text")
    states = np.empty(T, dtype=np.int64)
    for t in range(T - 1, -1, -1):
        states[t] = s
        s -= int(back[t, s])

    tok = np.flatnonzero(states % 2 == 1)  # frames spent in a token state
    st = states[tok]
    starts = np.flatnonzero(np.r_[True, st[1:] != st[:-1]])  # states only rise: a state's frames are one run
    ends = np.r_[starts[1:], len(tok)]
    frames, durations, lps = [], [], []
    for a, b in zip(starts.tolist(), ends.tolist()):
        k = ext[st[a]]
        frames.append(int(tok[a]))
        durations.append(b - a)
        lps.append(float(lp[tok[a:b], k].max()))
    return DecodedSequence(ids, frames, durations, lps, score, T)
