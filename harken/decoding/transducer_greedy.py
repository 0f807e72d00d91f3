"""Greedy transducer decoding (RNNT and TDT), batched, with NeMo 3.0's decisions and scores.

At each row's current frame t the joint scores the tokens (and, for TDT, the durations):
- RNNT: the best token k; blank -> t + 1; otherwise emit k at t, feed it to the prediction network and stay
  on t, until `max_symbols` tokens were emitted on t, then t + 1.
- TDT: the best token k and the best duration d (chosen separately); blank -> t + max(d, 1); a token is
  emitted at t with duration d and t + d; the `max_symbols` rule applies only while t does not move.
RNNT is TDT with every token lasting 0 frames and every blank 1, which is how one loop does both.

Scores follow NeMo on CPU: the joint output is log-softmaxed over its whole last dimension (for TDT the
token and duration logits together), and a sequence's score sums that value over its emitted tokens
(in float32, token by token, as NeMo does: the sums then agree to the last bit).
harken does this on every device (NeMo's GPU scores are sums of raw logits). `token_logprobs` are the same
numbers, except for TDT, where they are normalised over the tokens alone so they stay probabilities of the
token (confidence); for RNNT the two are identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from harken.decoding.results import DecodedSequence
from harken.decoding.transducer_step import TransducerStep


@dataclass
class GreedyTransducer:
    """A transducer search: `GreedyTransducer(max_symbols=10)(step, encoded, lengths)`.
    `max_symbols` None means no per-frame limit (a degenerate model can then loop forever)."""

    max_symbols: int | None = 10
    transducer_search = True  # see transducer_step.TransducerSearch

    def __call__(self, step: TransducerStep, encoded: torch.Tensor, lengths: torch.Tensor) -> list[DecodedSequence]:
        return transducer_greedy(step, encoded, lengths, self.max_symbols)


@dataclass
class GreedyCarry:
    """Where a greedy search stopped at the end of a piece of encoder frames, so the next piece of the same
    recordings goes on exactly as if the frames had come in one piece (long audio decoded in windows):
    the prediction network's output and state, and the frames a TDT duration jumped past the piece's end."""

    pred: torch.Tensor
    state: Any
    skip: torch.Tensor


def transducer_greedy(step: TransducerStep, encoded: torch.Tensor, lengths: torch.Tensor,
                      max_symbols: int | None = 10) -> list[DecodedSequence]:
    """Encoder output [B, C, T] and valid frames [B] -> one DecodedSequence per row."""
    return transducer_greedy_carried(step, encoded, lengths, max_symbols)[0]


def transducer_greedy_carried(step: TransducerStep, encoded: torch.Tensor, lengths: torch.Tensor,
                              max_symbols: int | None = 10, carry: GreedyCarry | None = None
                              ) -> tuple[list[DecodedSequence], GreedyCarry | None]:
    """`transducer_greedy` over the next piece of frames after `carry` (None: the recordings' start) ->
    (the piece's tokens, frames counted from the piece's start; the carry for the piece after it)."""
    frames = step.encoder_frames(encoded)  # [B, T, H]
    batch, device = frames.shape[0], frames.device
    lengths = lengths.to(device)
    blank, tdt = int(step.blank_id), len(step.durations) > 0
    durations = torch.tensor(list(step.durations), dtype=torch.long, device=device) if tdt else None
    rows = torch.arange(batch, device=device)
    out = [DecodedSequence([], [], [], [], 0.0, int(n)) for n in lengths.tolist()]
    if frames.shape[1] == 0:
        return out, carry
    if carry is None:
        pred, state = step.predict(torch.full((batch,), blank, dtype=torch.long, device=device), None)
        t = torch.zeros(batch, dtype=torch.long, device=device)
    else:
        pred, state, t = carry.pred, carry.state, carry.skip.to(device)
    on_frame = torch.zeros(batch, dtype=torch.long, device=device)  # tokens emitted at the current t
    score = torch.zeros(batch, dtype=torch.float32, device=device)  # float32 sums, in NeMo's order
    last = frames.shape[1] - 1
    while True:
        active = t < lengths
        if not bool(active.any()):
            break
        logp = step.joint(frames[rows, t.clamp(max=last)], pred).float().log_softmax(dim=-1)
        tokens_lp = logp[:, : blank + 1]
        k = tokens_lp.argmax(dim=-1)
        emit = active & (k != blank)
        if tdt:
            d = durations[logp[:, blank + 1:].argmax(dim=-1)]
            advance = torch.where(emit, d, d.clamp(min=1))
        else:
            d = torch.ones_like(k)
            advance = torch.where(emit, torch.zeros_like(k), d)
        advance = torch.where(active, advance, torch.zeros_like(advance))
        on_frame = torch.where(emit, on_frame + 1, on_frame)
        if max_symbols is not None:
            stuck = emit & (advance == 0) & (on_frame >= max_symbols)
            advance = torch.where(stuck, torch.ones_like(advance), advance)
        if bool(emit.any()):
            _record(out, emit, k, t, d, logp, tokens_lp, tdt)
            score = score + torch.where(emit, logp[rows, k], torch.zeros_like(score))
            new_pred, new_state = step.predict(torch.where(emit, k, torch.full_like(k, blank)), state)
            pred = torch.where(emit[:, None], new_pred, pred)
            state = step.merge_states(new_state, state, emit)
        on_frame = torch.where(advance > 0, torch.zeros_like(on_frame), on_frame)
        t = t + advance
    for seq, s in zip(out, score.tolist()):
        seq.score = s
    return out, GreedyCarry(pred, state, t - lengths)


def _record(out: list[DecodedSequence], emit: torch.Tensor, k: torch.Tensor, t: torch.Tensor, d: torch.Tensor,
            logp: torch.Tensor, tokens_lp: torch.Tensor, tdt: bool) -> None:
    """Append this step's emitted tokens to their rows (one device sync for the whole batch)."""
    idx = emit.nonzero()[:, 0]
    ki = k[idx]
    conf = tokens_lp[idx].log_softmax(dim=-1) if tdt else logp[idx]
    conf = conf[torch.arange(len(idx), device=idx.device), ki]
    for b, tok, frame, dur, c in zip(idx.tolist(), ki.tolist(), t[idx].tolist(), d[idx].tolist(), conf.tolist()):
        seq = out[b]
        seq.token_ids.append(tok)
        seq.frames.append(frame)
        seq.durations.append(dur)
        seq.token_logprobs.append(c)
