"""Is model B's WER really different from model A's on the same utterances? A paired bootstrap says.

Resampling utterances (with replacement, the same draw for both models) keeps each utterance's difficulty
paired, so a few hard utterances cannot make one model look better by chance. The answer is the corpus WER
difference in points with its 95% interval; an interval that holds zero means the test set cannot tell.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from harken.metrics.wer import ErrorCounts


@dataclass(frozen=True)
class PairedDifference:
    points: float  # corpus WER of B minus A, in percentage points
    low: float  # 95% interval of the difference
    high: float
    share_worse: float  # share of resamples where B made more errors than A
    resamples: int


def paired_bootstrap(a: Sequence[ErrorCounts], b: Sequence[ErrorCounts], resamples: int = 2000,
                     seed: int = 0) -> PairedDifference:
    """`a[i]` and `b[i]` are the two models' errors on utterance i (same reference)."""
    if len(a) != len(b) or not a:
        raise ValueError(f"need the same non-zero number of utterances for both models, got {len(a)} and {len(b)}")
    def difference(indices: Sequence[int]) -> float:  # corpus WER of B minus A over these utterances, points
        words = sum(a[i].reference_length for i in indices) or 1
        return 100 * sum(b[i].errors - a[i].errors for i in indices) / words

    n = len(a)
    rng = random.Random(seed)
    draws = sorted(difference([rng.randrange(n) for _ in range(n)]) for _ in range(resamples))
    tail = int(0.025 * resamples)
    return PairedDifference(difference(range(n)), draws[tail], draws[resamples - 1 - tail],
                            sum(d > 0 for d in draws) / resamples, resamples)
