"""WordPiece tokenizer from a `vocab.txt` (NeMo's `wpe` tokenizers, a BERT-style vocabulary).

Words are split on whitespace and cut greedily into the longest pieces found in the vocabulary;
pieces after the first carry the `##` prefix. Decoding glues `##` pieces to the previous one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SPACES = re.compile(r"\s+")
UNK = "[UNK]"


class WordPieceTokenizer:
    def __init__(self, vocab: Sequence[str], name: str = "vocab.txt", max_chars_per_word: int = 100):
        self.labels = [v for v in vocab if v != ""]
        self.name = name
        self._ids = {piece: i for i, piece in enumerate(self.labels)}
        self._unk = self._ids.get(UNK, self._ids.get("<unk>"))
        self.max_chars = max_chars_per_word

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "vocab.txt") -> WordPieceTokenizer:
        return cls(data.decode("utf-8").splitlines(), name=name)

    @property
    def model_proto(self) -> bytes:
        return ("\n".join(self.labels) + "\n").encode("utf-8")

    @property
    def vocab_size(self) -> int:
        return len(self.labels)

    @property
    def blank_id(self) -> int:
        return len(self.labels)

    @property
    def word_pieces(self) -> list[str]:
        """Each token's text, word boundaries as spaces: a piece without "##" starts a word."""
        return [lab[2:] if lab.startswith("##") else " " + lab for lab in self.labels]

    def normalize(self, text: str) -> tuple[str, int]:
        text = _SPACES.sub(" ", text).strip()
        return text, sum(len(w) for w in text.split() if self._word(w) is None)

    def out_of_vocabulary(self, text: str) -> set[str]:
        return {c for w in text.split() if self._word(w) is None for c in w}

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in _SPACES.sub(" ", text).strip().split():
            pieces = self._word(word)
            if pieces is None:
                if self._unk is not None:
                    ids.append(self._unk)
            else:
                ids += pieces
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        out = ""
        for i in (int(x) for x in ids):
            if not 0 <= i < len(self.labels):
                continue
            piece = self.labels[i]
            out += piece[2:] if piece.startswith("##") else (" " if out else "") + piece
        return out

    def _word(self, word: str) -> list[int] | None:
        """Greedy longest-match pieces of one word, or None when it cannot be spelled."""
        if len(word) > self.max_chars:
            return None
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self._ids:
                    ids.append(self._ids[piece])
                    break
                end -= 1
            else:
                return None
            start = end
        return ids
