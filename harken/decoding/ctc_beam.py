"""CTC prefix beam search, optionally with a word n-gram language model (shallow fusion).

A hypothesis is a token prefix; its acoustic score sums every alignment that collapses to it (ending in
blank or not, as in Hannun et al. 2014). Each time a word is completed the LM adds
`alpha * ln P(word | previous words) + beta`, NeMo's and pyctcdecode's `beam_alpha` and `beam_beta`: alpha
weighs the LM against the acoustic model, beta pays for each word so the LM's cost per word does not
favour dropping words. A word the LM does not know costs `oov_penalty` more (pyctcdecode's
`unk_score_offset`): without it, running two words together into one unknown word is cheaper than paying
for both. An unfinished word that no known word begins with pays that penalty while beams are ranked, so
a beam cannot put off its costs by never finishing a word. The final word and the sentence end are scored
when the audio ends.

Hotwords (context biasing, `harken.decoding.context_graph`): each character of a token that extends a whole-word
match of a hotword earns `hotword_weight`, added to the ranking score like the LM's; a match that breaks before
the hotword is complete loses what it earned, and the final score counts only completed hotwords. So that
matches which will break cannot crowd the beam, it also keeps the `beam_size` best prefixes ranked without the
bonus of unfinished matches (up to twice the beams). Without hotwords none of this runs.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from harken.decoding.context_graph import START, ContextGraph, ContextState
from harken.decoding.ngram_lm import BOS, EOS, NgramLM, read_arpa

_LN10 = math.log(10.0)
_NEG = -math.inf
HOTWORD_WEIGHT = 2.0  # per character; chosen on half of bench/bench_hotwords.py's sentences (bench/RESULTS.md)


def _lse(a: float, b: float) -> float:
    """ln(e^a + e^b) for Python floats (numpy's is slow on scalars)."""
    if a < b:
        a, b = b, a
    return a if b == _NEG else a + math.log1p(math.exp(b - a))


@dataclass(frozen=True)
class _Words:
    """What the LM has seen of a prefix: completed words' score, the last words, the unfinished word and
    the score to rank by (the completed words', plus the penalty if the unfinished one cannot be a known word,
    plus the hotword bonus); `hot` is where the prefix stands in the hotwords' graph (None without hotwords)."""

    score: float = 0.0
    context: tuple[str, ...] = (BOS,)
    partial: str = ""
    rank: float = 0.0
    hot: ContextState | None = None


@dataclass
class BeamSearchDecoder:
    """Callable on one utterance's [frames, vocabulary + blank] log-probabilities -> token ids."""

    pieces: Sequence[str]  # text of each token id, a space where a word boundary falls (tokenizer.word_pieces)
    blank_id: int
    lm: NgramLM | None = None
    alpha: float = 0.5
    beta: float = 1.0
    beam_size: int = 16
    oov_penalty: float = -10.0
    token_min_logp: float = -7.0  # tokens less likely than this in a frame are not tried there
    hotwords: Sequence[str] = ()  # words or phrases to favour (context biasing), normalised to the tokens
    hotword_weight: float = HOTWORD_WEIGHT  # bonus per character of a hotword (natural-log units)

    def __post_init__(self):
        self._gaps = [not piece.strip() for piece in self.pieces]  # tokens that are only a word boundary
        if isinstance(self.hotwords, str):
            raise TypeError("hotwords must be a sequence of strings, not one string")
        self._graph = ContextGraph.for_pieces(self.pieces, self.hotwords, self.hotword_weight) if self.hotwords \
            else None
        self._start = _Words(hot=START) if self._graph is not None else _Words()

    @classmethod
    def for_model(cls, model, lm: NgramLM | str | Path | None = None, **options) -> BeamSearchDecoder:
        """A decoder for a CTC model's tokens; `lm` may be an ARPA path. Options as the fields."""
        if isinstance(lm, (str, Path)):
            lm = read_arpa(lm)
        return cls(model.tokenizer.word_pieces, model.blank_id, lm=lm, **options)

    def __call__(self, log_probs: torch.Tensor | np.ndarray) -> list[int]:
        lp = log_probs.float().cpu().numpy() if isinstance(log_probs, torch.Tensor) else np.asarray(log_probs)
        cache = {(): self._start}  # the LM state of every prefix met in this utterance
        beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, _NEG)}  # prefix -> (ends blank, ends token)
        for frame in lp:
            tried = np.flatnonzero(frame >= self.token_min_logp)
            if len(tried) == 1 and tried[0] == self.blank_id:  # only blank is likely: no prefix changes
                p = float(frame[self.blank_id])
                beams = {q: (_lse(b, t) + p, _NEG) for q, (b, t) in beams.items()}
                continue
            if len(tried) > self.beam_size:
                tried = tried[np.argsort(frame[tried])[-self.beam_size:]]
            beams = self._step(beams, frame, tried, cache)
        return list(max(beams, key=lambda p: self._final_score(self._words(p, cache), beams[p])))

    def _step(self, beams: dict, frame: np.ndarray, tried: np.ndarray, cache: dict) -> dict:
        nxt: dict[tuple[int, ...], list[float]] = {}

        def add(prefix, blank_score, token_score):
            b, t = nxt.get(prefix, (_NEG, _NEG))
            nxt[prefix] = [_lse(b, blank_score), _lse(t, token_score)]

        for prefix, (pb, pt) in beams.items():
            total = _lse(pb, pt)
            at_word_start = not self._words(prefix, cache).partial
            for c in tried:
                c = int(c)
                p = float(frame[c])
                if c == self.blank_id:
                    add(prefix, total + p, _NEG)
                    continue
                empty_word = at_word_start and self._gaps[c]  # a space that ends no word: never a new token
                if prefix and prefix[-1] == c:  # a repeat needs a blank between; otherwise it merges
                    add(prefix, _NEG, pt + p)
                    if not empty_word:
                        add((*prefix, c), _NEG, pb + p)
                elif not empty_word:
                    add((*prefix, c), _NEG, total + p)
        ranked = sorted(nxt, key=lambda q: _lse(*nxt[q]) + self._words(q, cache).rank, reverse=True)
        kept = ranked[: self.beam_size]
        if self._graph is not None and len(ranked) > self.beam_size:
            # also the best without the bonus of unfinished hotword matches, so that matches which will break
            # cannot crowd out of the beam what the search would keep without them
            def settled(q):
                words = self._words(q, cache)
                return _lse(*nxt[q]) + words.rank - self._graph.unfinished_bonus(words.hot)

            chosen = set(kept)
            kept += [q for q in heapq.nlargest(self.beam_size, ranked, key=settled) if q not in chosen]
        return {q: tuple(nxt[q]) for q in kept}

    def _words(self, prefix: tuple[int, ...], cache: dict) -> _Words:
        """The LM state of a prefix, from its parent's (cached: every prefix is extended many times)."""
        state = cache.get(prefix)
        if state is None:
            state = self._extend(self._words(prefix[:-1], cache), self.pieces[prefix[-1]])
            cache[prefix] = state
        return state

    def _extend(self, state: _Words, piece: str) -> _Words:
        *finished, partial = (state.partial + piece).split(" ")
        score, context = state.score, state.context
        for word in finished:
            score, context = self._score_word(score, context, word)
        unknown = self.lm is not None and partial and not self.lm.starts_a_word(partial)
        rank = score + (self.oov_penalty if unknown else 0.0)
        if self._graph is None:
            return _Words(score, context, partial, rank)
        hot = self._graph.advance(state.hot, piece)
        return _Words(score, context, partial, rank + self._graph.bonus(hot), hot)

    def _score_word(self, score: float, context: tuple[str, ...], word: str) -> tuple[float, tuple[str, ...]]:
        if not word or self.lm is None:  # without an LM the search is on the acoustic scores alone
            return score, context
        score += self.alpha * _LN10 * self.lm.log10_prob(context, word) + self.beta
        if word not in self.lm:
            score += self.oov_penalty
        return score, (*context, word)[-max(self.lm.order - 1, 1):]

    def _final_score(self, state: _Words, scores: tuple[float, float]) -> float:
        score, context = self._score_word(state.score, state.context, state.partial)
        if self.lm is not None:
            score += self.alpha * _LN10 * self.lm.log10_prob(context, EOS)
        if self._graph is not None:
            score += self._graph.final_bonus(state.hot)
        return _lse(*scores) + score

