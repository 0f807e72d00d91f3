"""SentencePiece (BPE/unigram) tokenizer for subword CTC models, as NeMo's `SentencePieceTokenizer`.

The model file travels inside the `.nemo` (NeMo names it `<uuid>_tokenizer.model` and refers to it
as `nemo:<name>` in the config), so a loaded model never needs the machine that trained it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SPACES = re.compile(r"\s+")


class BPETokenizer:
    def __init__(self, model_proto: bytes, name: str = "tokenizer.model"):
        import sentencepiece  # imported here: character models never need it

        self.name = name
        self.model_proto = model_proto
        self._sp = sentencepiece.SentencePieceProcessor(model_proto=model_proto)
        self.labels = [self._sp.id_to_piece(i) for i in range(self._sp.get_piece_size())]
        self._unk = self._sp.unk_id()

    @property
    def vocab_size(self) -> int:
        return len(self.labels)

    @property
    def blank_id(self) -> int:
        return len(self.labels)

    @property
    def word_pieces(self) -> list[str]:
        """Each token's text, word boundaries as spaces: SentencePiece's "▁" starts a word."""
        return [lab.replace("▁", " ") for lab in self.labels]

    def normalize(self, text: str) -> tuple[str, int]:
        """Whitespace collapsed; the count is of characters that would become <unk>."""
        text = _SPACES.sub(" ", text).strip()
        return text, sum(len(p) for p, i in zip(self._sp.encode_as_pieces(text), self.encode(text))
                         if i == self._unk)

    def out_of_vocabulary(self, text: str) -> set[str]:
        pieces = self._sp.encode_as_pieces(text)
        return {c for p, i in zip(pieces, self._sp.encode_as_ids(text)) if i == self._unk for c in p}

    def encode(self, text: str) -> list[int]:
        return list(self._sp.encode_as_ids(_SPACES.sub(" ", text).strip()))

    def decode(self, ids: Sequence[int]) -> str:
        n = len(self.labels)
        return self._sp.decode_ids([int(i) for i in ids if 0 <= int(i) < n])
