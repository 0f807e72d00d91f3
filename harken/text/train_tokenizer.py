"""Train a SentencePiece tokenizer from manifest texts (as NeMo's process_asr_text_tokenizer.py).

Writes the folder layout NeMo and `change_vocabulary(folder)` expect: tokenizer.model, tokenizer.vocab
and vocab.txt (one piece per line).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from harken.data.manifest import iter_manifest


@dataclass
class TrainedTokenizer:
    folder: Path
    kind: str
    vocab_size: int
    sentences: int


def train_tokenizer(manifests: list[str | Path], out: str | Path, vocab_size: int = 128, kind: str = "bpe",
                    lower: bool = False, character_coverage: float = 1.0) -> TrainedTokenizer:
    import sentencepiece as spm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    texts = [e.text.lower() if lower else e.text for m in manifests for e in iter_manifest(m) if e.text.strip()]
    if not texts:
        raise ValueError(f"{', '.join(map(str, manifests))}: no text to learn a tokenizer from")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "text.txt"
        corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(out / "tokenizer"), vocab_size=vocab_size, model_type=kind,
            character_coverage=character_coverage, bos_id=-1, eos_id=-1, minloglevel=2,
            hard_vocab_limit=kind != "char",
        )
    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    (out / "vocab.txt").write_text("\n".join(pieces) + "\n", encoding="utf-8")
    return TrainedTokenizer(out, kind, len(pieces), len(texts))
