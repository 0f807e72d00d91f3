"""Sliding-window relative-position attention (NeMo's `rel_pos_local_attn`, Longformer-style), computed in
blocks of queries so memory grows with T x (left + right + 1), not T x T: an hour of audio fits.

Each query t attends to keys t - left ... t + right (those inside the utterance). Its scores are Transformer-XL's,
(q + u)·k + (q + v)·p(offset), over sqrt(d_k), where p(offset) is the positional key of that relative offset:
exactly what full `rel_pos` attention gives once its scores outside the window are masked.

A block of `block` queries needs keys from `left` before it to `right` after it: one matmul gives the block's
scores against all of them, from which each query's own window is gathered (and scattered back for the
product with the values). Peak memory per layer is one block's [B, heads, block, block + window - 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.nn import functional as F


def local_attention(q_u: torch.Tensor, q_v: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: torch.Tensor,
                    valid: torch.Tensor, left: int, right: int, dropout: Callable[[torch.Tensor], torch.Tensor],
                    block: int | None = None) -> torch.Tensor:
    """q + u, q + v, k, v [B, h, T, d]; p [h, left + right + 1, d], the positional keys of relative offsets
    -left ... +right in that order; valid [B, T] (False: padding). -> [B, h, T, d]; a padded query's row of
    weights is zero, as in the full attention."""
    b, h, t, d = k.shape
    width = left + right + 1
    block = block or max(64, min(width, 512))
    kp, vp = F.pad(k, (0, 0, left, right)), F.pad(v, (0, 0, left, right))
    key_ok = F.pad(valid, (left, right), value=False)
    scale = math.sqrt(d)
    out = []
    for s in range(0, t, block):
        e = min(s + block, t)
        c = e - s
        keys, values = kp[:, :, s: e + width - 1], vp[:, :, s: e + width - 1]  # keys s - left ... e - 1 + right
        idx = (torch.arange(c, device=k.device)[:, None] + torch.arange(width, device=k.device)).expand(b, h, c, width)
        ac = torch.matmul(q_u[:, :, s:e], keys.transpose(-2, -1)).gather(-1, idx)  # [B, h, c, width]
        bd = torch.matmul(q_v[:, :, s:e], p.transpose(-2, -1))  # already one column per offset
        scores = (ac + bd) / scale
        mask = ~(key_ok[:, s: e + width - 1].unfold(1, width, 1) & valid[:, s:e, None])[:, None]  # [B, 1, c, width]
        attn = torch.softmax(scores.masked_fill(mask, torch.finfo(scores.dtype).min), dim=-1).masked_fill(mask, 0.0)
        spread = attn.new_zeros(b, h, c, c + width - 1).scatter(-1, idx, dropout(attn))
        out.append(torch.matmul(spread, values))
    return torch.cat(out, dim=2) if out else q_u.new_zeros(b, h, 0, d)
