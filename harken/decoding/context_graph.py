"""Hotwords (context biasing) for CTC prefix beam search: a prefix tree over the hotwords' characters.

The beam search feeds the graph the text of each token it appends (`tokenizer.word_pieces`: a space where a
word boundary falls), so one graph serves character, SentencePiece and word-piece models alike.

What is rewarded: every character that extends a match of a hotword earns `weight` (per character, not per
token, so a weight means the same for every tokenizer, and a long name, which has more ways to be misheard,
earns more). Matches are of whole words: one can begin only where a word begins, and it is complete only
when the word ends (a space, or the end of the utterance) right where the hotword ends, so "zebulons" or
"azebulon" earn nothing for the hotword "zebulon". While a match is under way its characters count at once,
which keeps the hypothesis in the beam; if it breaks before the hotword is complete, what it earned is taken
back (the state's bonus drops to what completed hotwords have earned), and at the end of the utterance an
unfinished match earns nothing. A completed hotword keeps its bonus.

Hotwords may have several words ("new york"). Where one hotword is the start of a longer one ("new", "new
york"), the longer match goes on, and if it breaks the shorter, completed one keeps its bonus. Matches do not
overlap: once a match breaks, the next can start at a later word start inside the broken one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ContextState:
    """Where a hypothesis stands: `match` is the text matched so far of a hotword ("" at a word start, None
    inside a word that cannot be one); `done` the characters of completed hotwords; `kept` the characters of
    the longest completed hotword that the current match extends (kept if the match breaks)."""

    match: str | None = ""
    done: int = 0
    kept: int = 0


START = ContextState()


class ContextGraph:
    """Hotwords as the set of their prefixes; states are `ContextState`s, moved on by `advance`."""

    def __init__(self, hotwords: Iterable[str], weight: float):
        self.hotwords = frozenset(hotwords)
        if not self.hotwords or "" in self.hotwords:
            raise ValueError("hotwords must be non-empty strings")
        self.weight = float(weight)
        self._prefixes = frozenset(w[:i] for w in self.hotwords for i in range(len(w) + 1))

    @classmethod
    def for_pieces(cls, pieces: Sequence[str], hotwords: Iterable[str], weight: float) -> ContextGraph:
        """A graph for a model whose tokens have the text `pieces`, hotwords normalised to it."""
        return cls(normalize_hotwords(hotwords, pieces), weight)

    def advance(self, state: ContextState, text: str) -> ContextState:
        """The state after `text` (one token's text, a space at a word boundary)."""
        for c in text:
            state = self._step(state, c)
        return state

    def bonus(self, state: ContextState) -> float:
        """What a hypothesis earns while beams are ranked: completed hotwords plus the match under way."""
        return self.weight * (state.done + len(state.match or ""))

    def unfinished_bonus(self, state: ContextState) -> float:
        """The part of `bonus` that a match under way has earned and may lose."""
        return self.weight * len(state.match or "")

    def final_bonus(self, state: ContextState) -> float:
        """What a finished hypothesis earns: a match under way counts only if it is a whole hotword."""
        match = state.match or ""
        return self.weight * (state.done + (len(match) if match in self.hotwords else state.kept))

    def find(self, text: str) -> list[str]:
        """The hotwords `text` is credited with, in order (what the bonuses pay for)."""
        found, state = [], START
        for c in text:
            before = state
            state = self._step(state, c)
            if state.done > before.done:
                found.append(self._credited(before, c))
        if state.match in self.hotwords:
            found.append(state.match)
        elif state.kept:
            found.append(state.match[: state.kept])
        return found

    def _credited(self, before: ContextState, c: str) -> str:
        match = before.match or ""
        return match if c == " " and match in self.hotwords else match[: before.kept]

    def _step(self, state: ContextState, c: str) -> ContextState:
        match = state.match
        if match is None:  # inside a word no hotword can be: wait for the next word
            return ContextState("", state.done) if c == " " else state
        if c == " " and match in self.hotwords:  # a whole hotword: keep its bonus
            if match + " " in self._prefixes:  # a longer hotword may follow; keep this one if it does not
                return ContextState(match + " ", state.done, len(match))
            return ContextState("", state.done + len(match))
        extended = match + c
        if extended in self._prefixes:
            return ContextState(extended, state.done, state.kept)
        # the match breaks: its bonus is taken back (a completed shorter hotword inside it stays); another
        # match may start at a later word start inside what was matched
        done = state.done + state.kept
        rest = extended[state.kept + 1:] if state.kept else extended
        for i in _word_starts(rest):
            if rest[i:] in self._prefixes:
                return ContextState(rest[i:], done)
        return ContextState(None, done)


def _word_starts(text: str):
    """Where words may start in `text` (which starts at a word start), longest remainder first."""
    yield 0
    for i, c in enumerate(text):
        if c == " ":
            yield i + 1


def normalize_hotwords(hotwords: Iterable[str], pieces: Sequence[str]) -> list[str]:
    """Hotwords as the model writes them: whitespace collapsed, lower-cased when no token has upper case,
    duplicates dropped. ValueError names a hotword the tokens cannot spell."""
    lower = not any(c.isupper() for piece in pieces for c in piece)
    chars = {c for piece in pieces for c in piece}
    out: list[str] = []
    for raw in hotwords:
        word = _SPACES.sub(" ", raw).strip()
        word = word.lower() if lower else word
        if not word:
            raise ValueError(f"empty hotword {raw!r}")
        missing = sorted({c for c in word if c not in chars})
        if missing:
            raise ValueError(f"hotword {raw!r} has characters the model cannot emit: {''.join(missing)!r}")
        if not _spellable(word, pieces):
            raise ValueError(f"hotword {raw!r} cannot be spelled with the model's tokens")
        if word not in out:
            out.append(word)
    return out


def _spellable(word: str, pieces: Sequence[str]) -> bool:
    """Whether some sequence of tokens writes `word` (a first token may bring the space that starts it)."""
    reach = [False] * (len(word) + 1)
    reach[0] = True
    for i in range(len(word)):
        if not reach[i]:
            continue
        for piece in pieces:
            if not piece:
                continue
            if word.startswith(piece, i):
                reach[i + len(piece)] = True
            elif i == 0 and piece[0] == " " and len(piece) > 1 and word.startswith(piece[1:]):
                reach[len(piece) - 1] = True
        if reach[-1]:
            return True
    return reach[-1]
