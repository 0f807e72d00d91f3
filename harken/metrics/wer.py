"""Word and character error rates, corpus level: total edits / total reference units."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class ErrorCounts:
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    reference_length: int = 0

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Error rate; an empty reference with insertions counts as 100% per inserted unit."""
        if self.reference_length == 0:
            return float(self.errors > 0)
        return self.errors / self.reference_length

    def __iadd__(self, other: ErrorCounts) -> ErrorCounts:
        self.substitutions += other.substitutions
        self.deletions += other.deletions
        self.insertions += other.insertions
        self.reference_length += other.reference_length
        return self


def align_counts(ref: Sequence, hyp: Sequence) -> ErrorCounts:
    """Levenshtein alignment of two sequences, with the edit operations counted by kind."""
    # each cell: (total, subs, dels, ins); ties prefer substitutions, as sclite does
    prev = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            if ref[i - 1] == hyp[j - 1]:
                best = prev[j - 1]
            else:
                s, d, n = prev[j - 1], prev[j], cur[j - 1]
                best = min(
                    (s[0] + 1, s[1] + 1, s[2], s[3]),
                    (d[0] + 1, d[1], d[2] + 1, d[3]),
                    (n[0] + 1, n[1], n[2], n[3] + 1),
                )
            cur.append(best)
        prev = cur
    _, s, d, n = prev[-1]
    return ErrorCounts(s, d, n, len(ref))


def alignment(ref: Sequence, hyp: Sequence, tie_cost: Callable[[Any, Any], float] | None = None) -> list[tuple]:
    """A minimal-edit alignment spelt out as (ref item, hyp item) pairs, None where one side has nothing.

    It has `align_counts`' number of edits. Among such alignments it takes the one whose edits have the least
    `tie_cost(ref item or None, hyp item or None)` in all (e.g. letters changed, so that similar words pair up),
    and walks back through matches first, then deletions and insertions: a dropped word reads as dropped rather
    than as a chain of substitutions after it.
    """
    tie = tie_cost or (lambda a, b: 0)
    n, m = len(ref), len(hyp)
    cost = [[(0, 0.0)] * (m + 1) for _ in range(n + 1)]  # (edits, tie cost) of the best alignment of the prefixes

    def step(i: int, j: int, di: int, dj: int) -> tuple[int, float]:
        a, b = ref[i - 1] if di else None, hyp[j - 1] if dj else None
        edits, extra = cost[i - di][j - dj]
        return (edits, extra) if di and dj and a == b else (edits + 1, extra + tie(a, b))

    def moves(i: int, j: int) -> list[tuple[int, int]]:  # deletion, insertion, diagonal: the walk back's order
        return [(di, dj) for di, dj in ((1, 0), (0, 1), (1, 1)) if i >= di and j >= dj]

    for i in range(n + 1):
        for j in range(m + 1):
            if i or j:
                cost[i][j] = min(step(i, j, *move) for move in moves(i, j))
    pairs, i, j = [], n, m
    while i or j:
        if i and j and ref[i - 1] == hyp[j - 1] and cost[i][j] == step(i, j, 1, 1):
            di, dj = 1, 1
        else:
            di, dj = next(move for move in moves(i, j) if cost[i][j] == step(i, j, *move))
        i, j = i - di, j - dj
        pairs.append((ref[i] if di else None, hyp[j] if dj else None))
    return pairs[::-1]


def word_errors(ref: str, hyp: str) -> ErrorCounts:
    return align_counts(ref.split(), hyp.split())


def char_errors(ref: str, hyp: str) -> ErrorCounts:
    return align_counts(list(" ".join(ref.split())), list(" ".join(hyp.split())))


def corpus_wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    return corpus_word_errors(refs, hyps).rate


def corpus_word_errors(refs: Sequence[str], hyps: Sequence[str]) -> ErrorCounts:
    """Word edits summed over utterances, by kind."""
    return _corpus(refs, hyps, word_errors)


def corpus_cer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    return _corpus(refs, hyps, char_errors).rate


def _corpus(refs: Sequence[str], hyps: Sequence[str], fn) -> ErrorCounts:
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    total = ErrorCounts()
    for r, h in zip(refs, hyps):
        total += fn(r, h)
    return total
