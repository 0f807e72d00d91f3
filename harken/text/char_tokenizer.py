"""Characters <-> token ids for character CTC models (NeMo's `labels` list; blank is the last id).

Text is normalised the way a manifest's transcript should be compared with the model's output:
lower-cased (when the vocabulary has no upper case), whitespace collapsed, characters outside the
vocabulary dropped and counted so the caller can decide whether that is an error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SPACES = re.compile(r"\s+")


class OutOfVocabularyError(ValueError):
    pass


class CharTokenizer:
    def __init__(self, labels: Sequence[str]):
        labels = list(labels)
        if not labels:
            raise ValueError("a character vocabulary needs at least one label")
        bad = [lab for lab in labels if not isinstance(lab, str) or len(lab) != 1]
        if bad:
            raise ValueError(f"character labels must be single characters; got {bad[:5]!r}")
        dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
        if dupes:
            raise ValueError(f"duplicate labels in vocabulary: {dupes!r}")
        self.labels = labels
        self._ids = {lab: i for i, lab in enumerate(labels)}
        self._lower = not any(lab.isupper() for lab in labels)

    @property
    def vocab_size(self) -> int:
        """Number of labels, without the blank."""
        return len(self.labels)

    @property
    def blank_id(self) -> int:
        return len(self.labels)

    @property
    def word_pieces(self) -> list[str]:
        """Each token's text, word boundaries as spaces (for word-level LM fusion): the labels themselves."""
        return list(self.labels)

    def out_of_vocabulary(self, text: str) -> set[str]:
        return {c for c in self._prepare(text) if c not in self._ids}

    def normalize(self, text: str) -> tuple[str, int]:
        """Return (text with only known characters, number of characters dropped)."""
        text = self._prepare(text)
        kept = "".join(c for c in text if c in self._ids)
        dropped = len(text) - len(kept)
        return _SPACES.sub(" ", kept).strip(), dropped

    def encode(self, text: str, strict: bool = False) -> list[int]:
        """Token ids of `text`; unknown characters are dropped, or raise when `strict`."""
        if strict:
            unknown = self.out_of_vocabulary(text)
            if unknown:
                raise OutOfVocabularyError(f"characters not in the vocabulary: {''.join(sorted(unknown))!r}")
        text, _ = self.normalize(text)
        return [self._ids[c] for c in text]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ids; blanks and out-of-range ids are skipped."""
        n = len(self.labels)
        return "".join(self.labels[i] for i in (int(x) for x in ids) if 0 <= i < n)

    def _prepare(self, text: str) -> str:
        text = _SPACES.sub(" ", text).strip()
        return text.lower() if self._lower else text
