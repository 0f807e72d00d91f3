"""Batches of similar-length utterances, bounded by count and by total (padded) duration.

Bucketing keeps padding small: indices are sorted by duration, cut into `num_buckets` buckets of
equal count, shuffled within each bucket, cut into batches (a bucket's batch size is what fits its
longest utterance into `max_batch_duration`, capped by `batch_size`), and the batches shuffled. Every rank
gets the same number of batches (DDP would hang otherwise). The state (epoch + batches consumed) goes
into checkpoints so a resumed run continues with exactly the next batch of the same epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class DurationBatchSampler(Sampler[list[int]]):
    def __init__(
        self,
        durations: Sequence[float],
        batch_size: int | None = 16,
        max_batch_duration: float | None = None,
        shuffle: bool = True,
        seed: int = 0,
        num_buckets: int = 10,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ):
        if not batch_size and not max_batch_duration:
            raise ValueError("batching needs batch_size or max_batch_duration (or both)")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        self.durations = np.asarray(durations, dtype=np.float64)
        if len(self.durations) == 0:
            raise ValueError("cannot batch an empty dataset")
        self.batch_size = int(batch_size) if batch_size else None
        self.max_batch_duration = float(max_batch_duration) if max_batch_duration else None
        self.shuffle, self.seed, self.num_buckets = shuffle, int(seed), max(1, int(num_buckets))
        self.drop_last, self.rank, self.world_size = drop_last, rank, world_size
        self.epoch = 0
        self.resume_offset = 0  # batches of `epoch` already consumed before a resume
        self._length = len(self._rank_batches())

    # ------------------------------------------------------------------ epoch state
    def set_epoch(self, epoch: int) -> None:
        """Lightning calls this before every epoch; a pending resume survives only for its own epoch."""
        if epoch != self.epoch:
            self.resume_offset = 0
        self.epoch = int(epoch)

    def state_dict(self, batches_consumed: int | None = None) -> dict:
        return {
            "epoch": self.epoch,
            "batches_consumed": self.resume_offset if batches_consumed is None else int(batches_consumed),
            "seed": self.seed,
            "world_size": self.world_size,
            "num_utterances": len(self.durations),
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("num_utterances") not in (None, len(self.durations)):
            raise ValueError(
                f"sampler state is for {state['num_utterances']} utterances, the dataset has {len(self.durations)}: "
                "the training manifest changed since the checkpoint"
            )
        if state.get("world_size", self.world_size) != self.world_size:
            raise ValueError(
                f"sampler state is for {state['world_size']} processes, this run has {self.world_size}"
            )
        self.seed = int(state.get("seed", self.seed))
        self.epoch = int(state["epoch"])
        self.resume_offset = int(state["batches_consumed"])

    # ------------------------------------------------------------------ batches
    def __len__(self) -> int:
        """Batches in a full epoch for this rank (also when resuming mid-epoch)."""
        return self._length

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._rank_batches()
        start, self.resume_offset = self.resume_offset, 0
        yield from batches[start:]

    def _rank_batches(self) -> list[list[int]]:
        batches = self._all_batches()
        if self.world_size > 1:
            per_rank = len(batches) // self.world_size if self.drop_last else math.ceil(len(batches) / self.world_size)
            total = per_rank * self.world_size
            batches = (batches * math.ceil(total / len(batches)))[:total]  # pad by repeating from the start
            batches = batches[self.rank::self.world_size]
        return batches

    def _all_batches(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = np.argsort(self.durations, kind="stable")
        batches: list[list[int]] = []
        for bucket in np.array_split(order, self._bucket_count()):
            if self.shuffle:
                bucket = rng.permutation(bucket)
            batches += self._pack(bucket.tolist())
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def _bucket_count(self) -> int:
        """No more buckets than batches: a bucket smaller than a batch would only make small batches."""
        per_batch = self.batch_size or len(self.durations)
        if self.max_batch_duration is not None:
            per_batch = min(per_batch, max(1, int(self.max_batch_duration // max(self.durations.mean(), 1e-9))))
        return max(1, min(self.num_buckets, len(self.durations) // per_batch))

    def _pack(self, indices: list[int]) -> list[list[int]]:
        """Fixed size per bucket, set by its longest utterance: the epoch length never changes."""
        size = self.batch_size or len(indices)
        if self.max_batch_duration is not None:
            longest = float(self.durations[indices].max())
            size = max(1, min(size, int(self.max_batch_duration // max(longest, 1e-9))))
        batches = [indices[i:i + size] for i in range(0, len(indices), size)]
        if self.drop_last and batches and len(batches[-1]) < size:
            batches.pop()
        return batches
