"""Greedy CTC decoding: best class per frame, collapse repeats, drop blanks."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def collapse(frame_ids: Sequence[int], blank_id: int) -> list[int]:
    """[a, a, blank, a, b, b] -> [a, a, b]: repeats merge unless a blank separates them."""
    out: list[int] = []
    prev = None
    for i in frame_ids:
        if i != prev and i != blank_id:
            out.append(int(i))
        prev = i
    return out


def ctc_greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, blank_id: int) -> list[list[int]]:
    """[B, T, V] scores and [B] valid frame counts -> token ids per row."""
    best = log_probs.argmax(dim=-1).cpu()
    return [collapse(row[: int(n)].tolist(), blank_id) for row, n in zip(best, lengths.cpu())]
