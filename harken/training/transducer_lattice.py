"""Forward-backward over the transducer lattice, with an explicit backward (no autograd through the loops).

The lattice has a node (t, u) per frame t < T_b and emitted-label count u <= U_b. A *move* leaves (t, u)
for (t + d, u + label): RNNT has a blank move (d = 1) and a label move (d = 0); TDT has one blank move per
duration d > 0 and one label move per duration (d = 0 included), each weighted by that duration's
log-prob. The utterance ends with a blank move that lands exactly on (T_b, U_b).

Why anti-diagonals: every move goes from diagonal n = t + u to a later one, so one diagonal is one
vectorised step over [B, U + 1] and the loop runs T + U times, with exact log-sum-exp (no cumulative-sum
cancellation). Tensors are stored "skewed": `sk[:, n, u]` is lattice node (n - u, u).

Why an explicit backward: alpha and beta give every move's occupancy (its posterior), which is minus the
gradient w.r.t. that move's log weight, in O(B T U) memory; autograd through the loop would keep every
step's intermediates. It also makes FastEmit a one-line change (label-move gradients times 1 + lambda).
"""

from __future__ import annotations

import torch

# (emits a label, frames advanced, index into the duration log-probs or -1 when the move has none)
Move = tuple[bool, int, int]
RNNT_MOVES: tuple[Move, ...] = ((False, 1, -1), (True, 0, -1))
NEG_INF = float("-inf")


def tdt_moves(durations: list[int] | tuple[int, ...]) -> tuple[Move, ...]:
    """TDT's moves: a blank may not last 0 frames, a label may."""
    if not durations or min(durations) < 0 or max(durations) < 1:
        raise ValueError(f"TDT durations {list(durations)}: need non-negative values with at least one > 0")
    blanks = [(False, int(d), i) for i, d in enumerate(durations) if d > 0]
    return tuple(blanks + [(True, int(d), i) for i, d in enumerate(durations)])


def skew(x: torch.Tensor, fill: float = NEG_INF) -> torch.Tensor:
    """[B, T, U1, ...] -> [B, T + U1, U1, ...] with out[:, n, u] = x[:, n - u, u] (`fill` off the lattice)."""
    b, t_max, u1 = x.shape[:3]
    n = torch.arange(t_max + u1, device=x.device)[:, None]
    t = n - torch.arange(u1, device=x.device)[None, :]  # [N, U1]
    inside = (t >= 0) & (t < t_max)
    tail = (1,) * (x.dim() - 3)
    index = t.clamp(0, t_max - 1).view(1, *t.shape, *tail).expand(b, -1, -1, *x.shape[3:])
    return x.gather(1, index).masked_fill(~inside.view(1, *t.shape, *tail), fill)


def unskew(x: torch.Tensor, t_max: int) -> torch.Tensor:
    """The inverse of `skew`: [B, T + U1, U1, ...] -> [B, T, U1, ...]."""
    b, _, u1 = x.shape[:3]
    n = torch.arange(t_max, device=x.device)[:, None] + torch.arange(u1, device=x.device)[None, :]
    tail = (1,) * (x.dim() - 3)
    return x.gather(1, n.view(1, t_max, u1, *tail).expand(b, -1, -1, *x.shape[3:]))


def _weights(blank: torch.Tensor, label: torch.Tensor, dur: torch.Tensor | None,
             moves: tuple[Move, ...]) -> list[torch.Tensor]:
    """Each move's log weight on the skewed lattice, [B, N, U1]."""
    out = []
    for is_label, _, k in moves:
        w = label if is_label else blank
        out.append(w + dur[..., k] if k >= 0 else w)
    return out


def _alpha(weights: list[torch.Tensor], moves: tuple[Move, ...], valid: torch.Tensor) -> torch.Tensor:
    """Forward variables on the skewed lattice: log-prob of reaching (t, u), -inf off the utterance."""
    b, n_diag, u1 = valid.shape
    alpha = valid.new_full((b, n_diag, u1), NEG_INF, dtype=weights[0].dtype)
    alpha[:, 0, 0] = 0.0
    for n in range(1, n_diag):
        terms = []
        for (is_label, d, _), w in zip(moves, weights):
            m = n - d - int(is_label)
            if m < 0:
                continue
            x = alpha[:, m] + w[:, m]
            if is_label:  # (t - d, u - 1) -> (t, u): shift one step along u
                x = torch.nn.functional.pad(x[:, :-1], (1, 0), value=NEG_INF)
            terms.append(x)
        alpha[:, n] = torch.where(valid[:, n], torch.stack(terms).logsumexp(0), NEG_INF)
    return alpha


def _ends(moves: tuple[Move, ...], t: torch.Tensor, u: torch.Tensor, t_len: torch.Tensor,
          u_len: torch.Tensor) -> list[torch.Tensor | None]:
    """Per move, where on the skewed lattice it ends the utterance: blank moves landing on (T_b, U_b)."""
    last = u == u_len[:, None, None]
    return [None if is_label else last & (t + d == t_len[:, None, None]) for is_label, d, _ in moves]


def _after(beta: torch.Tensor, move: Move, end: torch.Tensor | None, start: int, stop: int) -> torch.Tensor:
    """beta at the destinations of `move` from diagonals start..stop-1 (0 where the move ends the utterance)."""
    is_label, d, _ = move
    u1 = beta.shape[2] - 1
    x = beta[:, start + d + int(is_label): stop + d + int(is_label), int(is_label): int(is_label) + u1]
    return x if end is None else x.masked_fill(end[:, start:stop], 0.0)


def _beta(weights: list[torch.Tensor], moves: tuple[Move, ...], valid: torch.Tensor,
          ends: list[torch.Tensor | None]) -> torch.Tensor:
    """Backward variables: log-prob of finishing from (t, u) (its own blank-ended paths only).
    Shape [B, N + max step + 1, U1 + 1]: the padding lets every move read its destination by slicing."""
    b, n_diag, u1 = valid.shape
    reach = max(d + int(is_label) for is_label, d, _ in moves)
    beta = valid.new_full((b, n_diag + reach + 1, u1 + 1), NEG_INF, dtype=weights[0].dtype)
    for n in range(n_diag - 1, -1, -1):
        terms = [w[:, n] + _after(beta, move, end, n, n + 1)[:, 0] for move, w, end in zip(moves, weights, ends)]
        beta[:, n, :u1] = torch.where(valid[:, n], torch.stack(terms).logsumexp(0), NEG_INF)
    return beta


def _end_logprob(alpha: torch.Tensor, weights: list[torch.Tensor], moves: tuple[Move, ...], t_len: torch.Tensor,
                 u_len: torch.Tensor) -> torch.Tensor:
    """log P(y | x) per utterance: the blank moves that land exactly on (T_b, U_b)."""
    rows = torch.arange(alpha.shape[0], device=alpha.device)
    terms = []
    for (is_label, d, _), w in zip(moves, weights):
        if is_label:
            continue
        t = t_len - d
        diag = (t + u_len).clamp(min=0)
        x = alpha[rows, diag, u_len] + w[rows, diag, u_len]
        terms.append(torch.where(t >= 0, x, NEG_INF))
    return torch.stack(terms).logsumexp(0)


class TransducerLattice(torch.autograd.Function):
    """Per-utterance negative log-likelihood from gathered log-probs (see `transducer_loss`).

    Inputs: blank [B, T, U1], label [B, T, U1] (node (t, u)'s log-prob of target u + 1; the last column is
    unused), dur [B, T, U1, D] or None, lengths [B]. Output: [B] NLL, times (1 + fastemit_lambda).
    """

    @staticmethod
    def forward(ctx, blank, label, dur, t_len, u_len, moves, fastemit_lambda):
        t_max, u1 = blank.shape[1], blank.shape[2]
        if int(t_len.max()) > t_max or int(u_len.max()) >= u1 or int(t_len.min()) < 0 or int(u_len.min()) < 0:
            raise ValueError(f"lengths out of range: input_lengths <= {t_max}, target_lengths <= {u1 - 1}")
        t_len, u_len = t_len.to(blank.device, torch.long), u_len.to(blank.device, torch.long)
        sk_dur = skew(dur) if dur is not None else None
        weights = _weights(skew(blank), skew(label), sk_dur, moves)
        n = torch.arange(t_max + u1, device=blank.device)[:, None]
        u = torch.arange(u1, device=blank.device)[None, :]
        t = (n - u)[None]
        valid = (t >= 0) & (t < t_len[:, None, None]) & (u[None] <= u_len[:, None, None])
        alpha = _alpha(weights, moves, valid)
        logp = _end_logprob(alpha, weights, moves, t_len, u_len)
        ctx.save_for_backward(blank, label, dur, alpha, logp, valid)
        ctx.moves, ctx.fastemit_lambda = moves, fastemit_lambda
        ctx.ends = _ends(moves, t, u[None], t_len, u_len)
        return -logp * (1.0 + fastemit_lambda)

    @staticmethod
    def backward(ctx, grad_out):
        blank, label, dur, alpha, logp, valid = ctx.saved_tensors
        moves, ends = ctx.moves, ctx.ends
        weights = _weights(skew(blank), skew(label), skew(dur) if dur is not None else None, moves)
        beta = _beta(weights, moves, valid, ends)
        n_diag = alpha.shape[1]
        norm = torch.where(torch.isfinite(logp), logp, 0.0)[:, None, None]
        scale = grad_out.to(alpha.dtype)[:, None, None] * torch.isfinite(logp)[:, None, None]
        g_blank, g_label = torch.zeros_like(alpha), torch.zeros_like(alpha)
        g_dur = [torch.zeros_like(alpha) for _ in range(dur.shape[-1])] if dur is not None else []
        for (is_label, d, k), w, end in zip(moves, weights, ends):
            after = _after(beta, (is_label, d, k), end, 0, n_diag)
            occ = (alpha + w + after - norm).exp() * scale  # the move's posterior occupancy
            if is_label:
                g_label -= occ * (1.0 + ctx.fastemit_lambda)  # FastEmit: label moves weigh 1 + lambda
            else:
                g_blank -= occ
            if k >= 0:
                g_dur[k] -= occ
        t_max = blank.shape[1]
        grad_dur = unskew(torch.stack(g_dur, dim=-1), t_max) if dur is not None else None
        return unskew(g_blank, t_max), unskew(g_label, t_max), grad_dur, None, None, None, None
