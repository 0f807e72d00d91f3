"""Word n-gram language models in the ARPA format that KenLM, SRILM and NeMo's LM scripts share.

Small and dependency-free: `read_arpa` loads a model another tool made (plain or `.gz`), `build` estimates
one from sentences with interpolated Kneser-Ney smoothing, `write_arpa` saves it atomically. Scores are
log10 probabilities, as in the file.
"""

from __future__ import annotations

import gzip
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from harken.core.atomic import atomic_write_text

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
NEVER = -99.0  # log10 probability ARPA files give to <s>, which is never predicted
_SECTION = re.compile(r"\\(\d+)-grams:$")

Ngram = tuple[str, ...]


class ArpaError(ValueError):
    pass


class NgramLM:
    """log10 P(word | previous words) with ARPA back-off: an n-gram's own probability if the model has
    it, else the back-off weight of the context plus the probability given a shorter context."""

    def __init__(self, probs: dict[Ngram, float], backoffs: dict[Ngram, float]):
        self.probs = probs
        self.backoffs = backoffs
        self.order = max((len(g) for g in probs), default=1)
        self._unk = probs.get((UNK,), NEVER)
        self._prefixes: set[str] | None = None

    def log10_prob(self, context: Sequence[str], word: str) -> float:
        ctx = tuple(context[len(context) - self.order + 1:]) if self.order > 1 else ()
        penalty = 0.0
        while True:
            p = self.probs.get((*ctx, word))
            if p is not None:
                return penalty + p
            if not ctx:
                return penalty + self._unk
            penalty += self.backoffs.get(ctx, 0.0)
            ctx = ctx[1:]

    def __contains__(self, word: str) -> bool:
        return (word,) in self.probs

    def starts_a_word(self, prefix: str) -> bool:
        """Whether some word of the vocabulary begins with `prefix` (for scoring unfinished words)."""
        if self._prefixes is None:
            self._prefixes = {g[0][:i] for g in self.probs if len(g) == 1 for i in range(1, len(g[0]) + 1)}
        return prefix in self._prefixes

    def sentence_log10_prob(self, words: Sequence[str]) -> float:
        """log10 P(<s> words </s>)."""
        seq = [BOS, *words, EOS]
        return sum(self.log10_prob(seq[:i], seq[i]) for i in range(1, len(seq)))

    def vocabulary(self) -> list[str]:
        return [g[0] for g in self.probs if len(g) == 1]

    def __repr__(self) -> str:
        sizes = Counter(len(g) for g in self.probs)
        return f"NgramLM(order={self.order}, " + ", ".join(f"{k}-grams={sizes[k]}" for k in sorted(sizes)) + ")"


def read_arpa(path: str | Path) -> NgramLM:
    """Load an ARPA file; errors name the file and line."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    probs: dict[Ngram, float] = {}
    backoffs: dict[Ngram, float] = {}
    declared: dict[int, int] = {}
    section = None  # "data", an order, or "end"
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for number, raw in enumerate(f, 1):
                line = raw.strip()
                if not line:
                    continue
                where = f"{path}:{number}"
                if line == "\\data\\":
                    section = "data"
                elif line == "\\end\\":
                    section = "end"
                    break
                elif m := _SECTION.match(line):
                    section = int(m.group(1))
                    if section not in declared:
                        raise ArpaError(f"{where}: {section}-grams not declared in the \\data\\ section")
                elif section == "data":
                    m = re.fullmatch(r"ngram\s+(\d+)\s*=\s*(\d+)", line)
                    if not m:
                        raise ArpaError(f"{where}: expected 'ngram N=COUNT' in the \\data\\ section, got {line[:60]!r}")
                    declared[int(m.group(1))] = int(m.group(2))
                elif isinstance(section, int):
                    _read_entry(line.split(), section, probs, backoffs, where)
                # lines before \data\ are comments
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise ArpaError(f"{path}: cannot read the language model ({e})") from e
    if section != "end":
        raise ArpaError(f"{path}: no \\end\\ line: the file is truncated or not an ARPA model")
    found = Counter(len(g) for g in probs)
    for n, count in declared.items():
        if found[n] != count:
            raise ArpaError(f"{path}: the header declares {count} {n}-grams, the file has {found[n]}")
    if not found[1]:
        raise ArpaError(f"{path}: no unigrams")
    return NgramLM(probs, backoffs)


def _read_entry(fields: list[str], n: int, probs: dict, backoffs: dict, where: str) -> None:
    if len(fields) not in (n + 1, n + 2):
        raise ArpaError(f"{where}: a {n}-gram line needs a probability, {n} words and an optional back-off")
    try:
        values = [float(fields[0])] + ([float(fields[-1])] if len(fields) == n + 2 else [])
    except ValueError as e:
        raise ArpaError(f"{where}: not a number ({e})") from None
    gram = tuple(fields[1 : n + 1])
    probs[gram] = values[0]
    if len(values) == 2 and values[1] != 0.0:
        backoffs[gram] = values[1]


def write_arpa(lm: NgramLM, path: str | Path) -> Path:
    by_order: dict[int, list[Ngram]] = defaultdict(list)
    for gram in lm.probs:
        by_order[len(gram)].append(gram)
    lines = ["\\data\\", *(f"ngram {n}={len(by_order[n])}" for n in sorted(by_order)), ""]
    for n in sorted(by_order):
        lines.append(f"\\{n}-grams:")
        for gram in sorted(by_order[n]):
            entry = f"{lm.probs[gram]:.6f}\t{' '.join(gram)}"
            if n < lm.order:
                entry += f"\t{lm.backoffs.get(gram, 0.0):.6f}"
            lines.append(entry)
        lines.append("")
    lines.append("\\end\\")
    return atomic_write_text(path, "\n".join(lines) + "\n")


def build(sentences: Iterable[str], order: int = 3) -> NgramLM:
    """Interpolated Kneser-Ney estimate from whitespace-tokenised sentences.

    Lower orders count how many different words precede an n-gram (its continuations), not how often it
    occurs, so a word seen often but in one phrase only ("francisco") gets little probability elsewhere.
    The discount of each order is n1 / (n1 + 2 n2) from that order's counts of counts. Mass left over at
    the unigrams goes to <unk>, so every context's distribution over the vocabulary sums to one.
    """
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    raw: list[Counter] = [Counter() for _ in range(order + 1)]
    for sentence in sentences:
        words = [BOS, *sentence.split(), EOS]
        for n in range(1, order + 1):
            for i in range(len(words) - n + 1):
                raw[n][tuple(words[i : i + n])] += 1
    if not raw[1]:
        raise ValueError("no sentences to build a language model from")
    counts = [Counter() for _ in range(order + 1)]
    counts[order] = raw[order]
    for n in range(1, order):  # continuation counts; n-grams that start a sentence have no left word
        for gram in raw[n + 1]:
            counts[n][gram[1:]] += 1
        for gram, c in raw[n].items():
            if gram[0] == BOS:
                counts[n][gram] = c
    counts[1].pop((BOS,), None)
    vocabulary = [g[0] for g in counts[1]] + [UNK]

    probs: dict[Ngram, float] = {}
    backoffs: dict[Ngram, float] = {}
    lower: dict[Ngram, float] = {}  # natural probabilities of the order below
    for n in range(1, order + 1):
        d = _discount(counts[n])
        totals: Counter = Counter()
        types: Counter = Counter()
        for gram, c in counts[n].items():
            totals[gram[:-1]] += c
            types[gram[:-1]] += 1
        current: dict[Ngram, float] = {}
        for gram, c in counts[n].items():
            ctx = gram[:-1]
            gamma = d * types[ctx] / totals[ctx]
            below = lower[gram[1:]] if n > 1 else 1.0 / len(vocabulary)
            current[gram] = (c - d) / totals[ctx] + gamma * below
        if n == 1:
            current[(UNK,)] = d * types[()] / totals[()] / len(vocabulary)
        else:
            for ctx in totals:
                backoffs[ctx] = math.log10(d * types[ctx] / totals[ctx])
        probs.update({g: math.log10(p) for g, p in current.items()})
        lower = current
    probs[(BOS,)] = NEVER
    return NgramLM(probs, backoffs)


def _discount(counts: Counter) -> float:
    hist = Counter(c for c in counts.values() if c <= 2)
    n1, n2 = hist[1], hist[2]
    return min(max(n1 / (n1 + 2 * n2), 0.1), 0.9) if n1 and n2 else 0.5
