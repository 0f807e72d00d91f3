"""Beam search for transducers (RNNT and TDT): NeMo 3.0's `strategy: beam`, `search_type: default`
(`BeamRNNTInfer.default_beam_search`, `BeamTDTInfer.default_beam_search`), over the step protocol.

Why this search: it gives NeMo's beam results for NeMo checkpoints. It decodes one utterance at a time and
expands one hypothesis at a time, best first, so it is slow (NeMo's own is slower still); each step is tiny,
so on a busy machine `torch.set_num_threads(1)` makes it several times faster.

RNNT, frame by frame: `open` starts as the hypotheses kept from the last frame. Take the best open one; its
`beam` best tokens stay open (they may emit again on this frame), its blank goes to `kept` (the next frame).
The frame ends once `beam` kept hypotheses score above every open one; all of those go on, not only `beam`.
Identical token sequences reached by different paths are not merged (NeMo does not merge them).

TDT, the same with durations. Token and duration log-probs are normalised separately; a (token, duration)
pair scores their sum, and the `beam` best pairs out of the top tokens x top durations are taken. A token of
duration 0 stays open; other tokens and blanks wait for frame t + d. A blank never takes duration 0 (unless
0 is the only candidate duration: then the smallest non-zero one). Waiting hypotheses with the same tokens
and frame are merged (log-add). A frame that runs out of open hypotheses keeps only the `beam` best waiting.

Both: the result is the best by score / (tokens + 1) (`score_norm`; NeMo counts its start blank), or by score.

Where this follows NeMo's numbers on purpose: the joint output is log-softmaxed over its whole last dimension
before the search's own log-softmax, as NeMo's CPU joint does (on every device, as the greedy search does);
RNNT scores add in float64, TDT scores in float32, as NeMo's do. NeMo's RNNT `beam_size` 1 is not this search
but its per-utterance greedy search with at most 5 tokens a frame, and so is ours.

Where it differs: `max_symbols_per_step` caps the tokens one hypothesis emits on one frame (NeMo has no cap,
and a model that keeps preferring tokens then never leaves the frame); at the cap a hypothesis only takes
its blank (RNNT) or its non-zero durations (TDT). NeMo's TDT beam `timestamp` is the frame a token ends on
(t + duration); `frames` here is the frame it starts on, as greedy's are (`durations` holds the rest).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harken.decoding.results import DecodedSequence
from harken.decoding.transducer_greedy import transducer_greedy
from harken.decoding.transducer_step import TransducerStep

NEMO_BEAM1_SYMBOLS = 5  # the per-frame limit NeMo's BeamRNNTInfer.greedy_search (beam_size 1) hard-codes


@dataclass
class BeamTransducer:
    """A transducer search: `BeamTransducer(beam_size=4)(step, encoded, lengths)`.

    `score_norm`: pick the final hypothesis by score per token (NeMo's default) rather than by score.
    `max_symbols_per_step`: the per-frame token cap of one hypothesis (None: none, as NeMo).
    `softmax_temperature`: divides the joint's output before the search's log-softmax (NeMo's key). Ignored at
    RNNT `beam_size` 1, whose greedy search it could only rescale the score of."""

    beam_size: int = 4
    score_norm: bool = True
    max_symbols_per_step: int | None = 100
    softmax_temperature: float = 1.0
    transducer_search = True  # see transducer_step.TransducerSearch

    def __post_init__(self):
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {self.beam_size}")
        if self.max_symbols_per_step is not None and self.max_symbols_per_step < 1:
            raise ValueError(f"max_symbols_per_step must be at least 1 (or None), got {self.max_symbols_per_step}")
        if self.softmax_temperature <= 0:
            raise ValueError(f"softmax_temperature must be positive, got {self.softmax_temperature}")

    def __call__(self, step: TransducerStep, encoded: torch.Tensor, lengths: torch.Tensor) -> list[DecodedSequence]:
        tdt = len(step.durations) > 0
        if self.beam_size == 1 and not tdt:  # NeMo switches to its greedy search here
            cap = self.max_symbols_per_step
            return transducer_greedy(step, encoded, lengths, NEMO_BEAM1_SYMBOLS if cap is None
                                     else min(cap, NEMO_BEAM1_SYMBOLS))
        with torch.inference_mode():
            frames = step.encoder_frames(encoded)
            out = []
            for b, n in enumerate(lengths.tolist()):
                search = _Search(step, frames[b, : int(n)], self.beam_size, self.max_symbols_per_step,
                                 self.softmax_temperature)
                hyps = search.tdt() if tdt else search.rnnt()
                out.append(_decoded(self._best(hyps), int(n)))
        return out

    def _best(self, hyps: list[_Hyp]) -> _Hyp:
        if self.score_norm:
            return sorted(hyps, key=lambda h: h.score / (h.length + 1), reverse=True)[0]
        return sorted(hyps, key=lambda h: h.score, reverse=True)[0]


class _Hyp:
    """A hypothesis: its token sequence (a `_Prefixes` node), score, and the trail of its emissions
    (a linked list of (previous, token, frame, duration, log-prob), so extending one copies nothing)."""

    __slots__ = ("score", "node", "length", "trail", "last", "count")

    def __init__(self, score: float, node: int, length: int, trail: tuple | None, last: int, count: int):
        self.score, self.node, self.length, self.trail = score, node, length, trail
        self.last = last  # RNNT: frame of the last token; TDT: the frame this hypothesis waits for
        self.count = count  # tokens emitted on frame `last` (for max_symbols_per_step)


class _Prefixes:
    """Token sequences as ids of a trie, with the prediction network's output after each one (NeMo caches the
    same by sequence). Only what the live hypotheses can still need is kept between frames."""

    def __init__(self, step: TransducerStep, device: torch.device):
        self.step, self.device = step, device
        self.child: dict[tuple[int, int], int] = {}
        self.origin: dict[int, tuple[int, int]] = {0: (-1, step.blank_id)}  # node -> (parent, last token)
        self.pred: dict[int, tuple[torch.Tensor, Any]] = {}
        self.ids = itertools.count(1)

    def extend(self, node: int, token: int) -> int:
        key = (node, token)
        found = self.child.get(key)
        if found is None:
            found = self.child[key] = next(self.ids)
            self.origin[found] = key
        return found

    def prediction(self, node: int) -> torch.Tensor:
        got = self.pred.get(node)
        if got is None:
            parent, token = self.origin[node]
            state = None if parent < 0 else self.pred[parent][1]
            got = self.pred[node] = self.step.predict(torch.tensor([token], device=self.device), state)
        return got[0]

    def keep_only(self, live: list[_Hyp]) -> None:
        nodes = {h.node for h in live}
        needed = nodes | {self.origin[n][0] for n in nodes}
        self.pred = {n: v for n, v in self.pred.items() if n in needed}
        self.origin = {n: v for n, v in self.origin.items() if n in nodes or n == 0}
        self.child = {v: n for n, v in self.origin.items() if n != 0}


class _Search:
    """One utterance: frames [T, H] (the joint's per-frame inputs)."""

    def __init__(self, step: TransducerStep, frames: torch.Tensor, beam_size: int, cap: int | None,
                 temperature: float = 1.0):
        self.step, self.frames, self.cap, self.temperature = step, frames, cap, temperature
        self.blank = int(step.blank_id)
        self.beam = min(beam_size, self.blank)  # NeMo: min(beam, vocabulary without the blank)
        self.beam_k = min(self.beam, self.blank - 1)
        self.prefixes = _Prefixes(step, frames.device)

    def _logprobs(self, t: int, node: int) -> torch.Tensor:
        """NeMo's CPU joint output (a log-softmax over tokens and durations together) / the temperature."""
        raw = self.step.joint(self.frames[t: t + 1], self.prefixes.prediction(node))
        out = raw[0].float().log_softmax(dim=-1)
        return out if self.temperature == 1.0 else out / self.temperature

    def _capped(self, hyp: _Hyp, t: int) -> bool:
        return self.cap is not None and hyp.last == t and hyp.count >= self.cap

    def rnnt(self) -> list[_Hyp]:
        kept = [_Hyp(0.0, 0, 0, None, -1, 0)]
        for t in range(self.frames.shape[0]):
            order = itertools.count()
            open_ = [(-h.score, next(order), h) for h in kept]  # ties go to the earlier one, as NeMo's max()
            heapq.heapify(open_)
            kept, kept_scores = [], []
            while True:
                _, _, hyp = heapq.heappop(open_)
                lp = self._logprobs(t, hyp.node).log_softmax(dim=-1)
                if not self._capped(hyp, t):
                    values, ids = lp[: self.blank].topk(self.beam_k)
                    count = hyp.count + 1 if hyp.last == t else 1
                    for value, k in zip(values.tolist(), ids.tolist()):
                        child = _Hyp(hyp.score + value, self.prefixes.extend(hyp.node, k), hyp.length + 1,
                                     (hyp.trail, k, t, 1, value), t, count)
                        heapq.heappush(open_, (-child.score, next(order), child))
                blank = _Hyp(hyp.score + float(lp[self.blank]), hyp.node, hyp.length, hyp.trail, hyp.last, hyp.count)
                kept.append(blank)
                bisect.insort(kept_scores, blank.score)
                best_open = -open_[0][0] if open_ else -np.inf
                if len(kept_scores) - bisect.bisect_right(kept_scores, best_open) >= self.beam or not open_:
                    kept = sorted((h for h in kept if h.score > best_open), key=lambda h: h.score)
                    break
            self.prefixes.keep_only(kept)
        return kept

    def tdt(self) -> list[_Hyp]:
        durations = [int(d) for d in self.step.durations]
        zero = durations.index(0) if 0 in durations else None
        nonzero = [i for i, d in enumerate(durations) if d != 0]
        smallest = min(nonzero, key=lambda i: durations[i]) if nonzero else None
        dur_k = min(self.beam, len(durations))
        f32 = np.float32
        kept = [_Hyp(0.0, 0, 0, None, 0, 0)]
        for t in range(self.frames.shape[0]):
            order = itertools.count()
            open_ = [(-h.score, next(order), h) for h in kept if h.last == t]
            heapq.heapify(open_)
            kept = [h for h in kept if h.last > t]
            while open_:
                _, _, hyp = heapq.heappop(open_)
                full = self._logprobs(t, hyp.node)
                lp, dlp = full[: self.blank + 1].log_softmax(dim=-1), full[self.blank + 1:].log_softmax(dim=-1)
                tok_v, tok_i = lp[: self.blank].topk(self.beam_k)
                dur_v, dur_i = dlp.topk(dur_k)
                pair_v, pair_i = torch.cartesian_prod(dur_v, tok_v).sum(dim=-1).topk(self.beam_k)
                tok_i, dur_i, lp_list = tok_i.tolist(), dur_i.tolist(), lp.tolist()
                capped = self._capped(hyp, t)
                for value, i in zip(pair_v.tolist(), pair_i.tolist()):
                    k, d = tok_i[i % self.beam_k], durations[dur_i[i // self.beam_k]]
                    if d == 0 and capped:
                        continue
                    child = _Hyp(float(f32(hyp.score) + f32(value)), self.prefixes.extend(hyp.node, k),
                                 hyp.length + 1, (hyp.trail, k, t, d, lp_list[k]), t + d,
                                 hyp.count + 1 if d == 0 else 0)
                    if d == 0:
                        heapq.heappush(open_, (-child.score, next(order), child))
                    else:
                        kept.append(child)
                for j in dur_i:
                    if j == zero:
                        if len(dur_i) > 1 or smallest is None:
                            continue
                        j = smallest
                    score = float(f32(f32(hyp.score) + f32(lp_list[self.blank])) + f32(dlp[j].item()))
                    kept.append(_Hyp(score, hyp.node, hyp.length, hyp.trail, t + durations[j], 0))
                kept = _merge(kept)
                if open_:
                    best_open = -open_[0][0]
                    above = sorted((h for h in kept if h.score > best_open), key=lambda h: h.score)
                    if len(above) >= self.beam:
                        kept = above
                        break
                else:
                    kept = sorted(kept, key=lambda h: h.score, reverse=True)[: self.beam]
            self.prefixes.keep_only(kept)
        return kept


def _merge(hyps: list[_Hyp]) -> list[_Hyp]:
    """Waiting hypotheses with the same tokens and the same next frame become one (log-add of the scores,
    in float32 as NeMo's), best first."""
    out: dict[tuple[int, int], _Hyp] = {}
    for h in sorted(hyps, key=lambda h: h.score, reverse=True):
        first = out.get((h.node, h.last))
        if first is None:
            out[(h.node, h.last)] = h
        else:
            first.score = float(torch.logaddexp(torch.tensor(first.score), torch.tensor(h.score)))
    return list(out.values())


def _decoded(hyp: _Hyp, num_frames: int) -> DecodedSequence:
    tokens, frames, durations, logprobs = [], [], [], []
    trail = hyp.trail
    while trail is not None:
        trail, k, t, d, lp = trail
        tokens.append(k)
        frames.append(t)
        durations.append(d)
        logprobs.append(lp)
    return DecodedSequence(tokens[::-1], frames[::-1], durations[::-1], logprobs[::-1], hyp.score, num_frames)
