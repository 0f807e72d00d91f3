"""RNNT and TDT losses in pure PyTorch (CPU and GPU), equal to NeMo 3.0's `RNNTLoss` values and gradients.

- `rnnt_loss` = NeMo's default (`warprnnt_numba`) loss: the log-softmax over the vocabulary is taken here,
  so raw logits and log-probs give the same value and the gradient is w.r.t. whatever was passed in.
  FastEmit (`fastemit_lambda` > 0), as NeMo's numba kernel: the value is (1 + lambda) x NLL, and the
  gradient is the NLL's with every label emission's occupancy scaled by 1 + lambda (blank emissions keep
  theirs). It is therefore *not* (1 + lambda) x the NLL gradient: FastEmit pushes label emissions earlier.
- `tdt_loss` = NeMo's `TDTLossPytorch` (the fixtures' reference; NeMo has no CPU TDT loss): token logits
  (V + 1, blank last) and duration logits (D) are log-softmaxed separately, `sigma` is subtracted from
  every token log-prob, a label may last 0 frames, a blank may not, and only a blank ends the utterance.
  NeMo's `omega`: on each call, with probability omega, its GPU loss returns the plain RNNT loss of the
  token logits instead (durations and sigma ignored). That makes the loss random; harken offers it through
  `omega` but its default is 0, and `harken train` never uses it, so training stays reproducible.

Memory is O(B T U) beyond the log-softmax and the two gathers (blank, target label) of [B, T, U + 1, V].
Reductions are `RNNTLoss`'s: none, sum, mean_batch, mean (of loss / target length), mean_volume (sum / sum
of target lengths); empty targets count as length 1 in the last two, where NeMo would divide by zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from harken.training.transducer_lattice import RNNT_MOVES, TransducerLattice, tdt_moves

REDUCTIONS = ("none", "sum", "mean_batch", "mean", "mean_volume")


def reduce_losses(losses: torch.Tensor, target_lengths: torch.Tensor, reduction: str | None) -> torch.Tensor:
    """Per-utterance losses [B] -> the reduction NeMo's `RNNTLoss(reduction=...)` applies."""
    reduction = "none" if reduction is None else str(reduction)
    lengths = target_lengths.to(losses.device, losses.dtype).clamp(min=1)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean_batch":
        return losses.mean()
    if reduction == "mean":
        return (losses / lengths).mean()
    if reduction == "mean_volume":
        return losses.sum() / lengths.sum()
    raise ValueError(f"reduction={reduction!r}: use one of {REDUCTIONS}")


def _float(x: torch.Tensor) -> torch.Tensor:
    """float32 for half precision (AMP), float64 kept (gradcheck)."""
    return x if x.dtype == torch.float64 else x.float()


def _gather(log_probs: torch.Tensor, targets: torch.Tensor, target_lengths: torch.Tensor,
            blank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, T, U1, V] log-probs -> blank [B, T, U1] and next-label [B, T, U1] log-probs (last column: blank)."""
    b, t_max, u1, vocab = log_probs.shape
    if targets.shape[0] != b or targets.shape[1] < u1 - 1:
        raise ValueError(f"targets {tuple(targets.shape)} do not fit logits {tuple(log_probs.shape)}")
    targets = targets[:, : u1 - 1].to(log_probs.device, torch.long)
    pad = torch.arange(u1 - 1, device=log_probs.device)[None] >= target_lengths.to(log_probs.device)[:, None]
    ids = torch.nn.functional.pad(targets.masked_fill(pad, blank), (0, 1), value=blank)
    if int(ids.min()) < 0 or int(ids.max()) >= vocab:
        raise ValueError(f"target ids must lie in [0, {vocab - 1}]")
    label = log_probs.gather(3, ids[:, None, :, None].expand(b, t_max, u1, 1))[..., 0]
    return log_probs[..., blank], label


def rnnt_loss(logits: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
              target_lengths: torch.Tensor, blank: int, reduction: str | None = "mean_batch",
              fastemit_lambda: float = 0.0) -> torch.Tensor:
    """RNN-T loss. logits [B, T, U + 1, V] (or log-probs), targets [B, >= U], lengths [B], blank id."""
    log_probs = _float(logits).log_softmax(dim=-1)
    blank_lp, label_lp = _gather(log_probs, targets, target_lengths, blank)
    losses = TransducerLattice.apply(blank_lp, label_lp, None, input_lengths, target_lengths, RNNT_MOVES,
                                     float(fastemit_lambda))
    return reduce_losses(losses, target_lengths, reduction)


def tdt_loss(logits: torch.Tensor, targets: torch.Tensor, input_lengths: torch.Tensor,
             target_lengths: torch.Tensor, blank: int, durations: Sequence[int] = (0, 1, 2, 3, 4),
             sigma: float = 0.0, reduction: str | None = "mean_batch", omega: float = 0.0,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """TDT loss. logits [B, T, U + 1, V + 1 + len(durations)]: token logits (blank = `blank`, the last
    token) then duration logits in the order of `durations`. `omega` > 0 reproduces NeMo's random switch
    to the RNNT loss of the token logits (drawn from `generator`, or torch's global generator)."""
    n_dur = len(durations)
    if logits.shape[-1] != blank + 1 + n_dur:
        raise ValueError(f"TDT logits have {logits.shape[-1]} outputs; expected blank + 1 + {n_dur} durations "
                         f"= {blank + 1 + n_dur}")
    if omega > 0 and float(torch.rand((), generator=generator)) < omega:
        return rnnt_loss(logits[..., : blank + 1], targets, input_lengths, target_lengths, blank, reduction)
    x = _float(logits)
    tokens = x[..., : blank + 1].log_softmax(dim=-1) - float(sigma)
    dur = x[..., blank + 1:].log_softmax(dim=-1)
    blank_lp, label_lp = _gather(tokens, targets, target_lengths, blank)
    losses = TransducerLattice.apply(blank_lp, label_lp, dur, input_lengths, target_lengths,
                                     tdt_moves(list(durations)), 0.0)
    return reduce_losses(losses, target_lengths, reduction)
