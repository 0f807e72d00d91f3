"""harken tokenizer train --manifest M [--manifest M2] --vocab-size N --type bpe|unigram|char --out DIR

Manifest lines that are not UTF-8 are refused with their file and line. The tokenizer is trained in a
temporary folder beside DIR and its files (tokenizer.model, tokenizer.vocab, vocab.txt) moved into place at
the end, so DIR never holds half of one; they replace files already there only with --overwrite.
"""

from __future__ import annotations

import argparse

from harken.cli import safety

FILES = ("tokenizer.model", "tokenizer.vocab", "vocab.txt")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["train"])
    p.add_argument("--manifest", action="append", required=True, help="manifest(s) whose `text` to learn from")
    p.add_argument("--vocab-size", type=safety.positive_int, default=128)
    p.add_argument("--type", choices=["bpe", "unigram", "char"], default="bpe")
    p.add_argument("--out", required=True, help="folder for tokenizer.model, tokenizer.vocab, vocab.txt")
    p.add_argument("--lower", action="store_true", help="lower-case the text first")
    p.add_argument("--character-coverage", type=float, default=1.0)
    p.add_argument("--overwrite", action="store_true", help="replace a tokenizer already in --out")


def run(args: argparse.Namespace) -> int:
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from harken.text.train_tokenizer import train_tokenizer

    if not 0 < args.character_coverage <= 1:
        raise ValueError(f"--character-coverage must be in (0, 1], got {args.character_coverage}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: is a file; give a folder")
    safety.protect_outputs([out / name for name in FILES], args.manifest, args.overwrite, "choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.training-"))
    try:
        result = train_tokenizer(args.manifest, work, vocab_size=args.vocab_size, kind=args.type,
                                 lower=args.lower, character_coverage=args.character_coverage)
        out.mkdir(exist_ok=True)
        for name in FILES:
            os.replace(work / name, out / name)
    except RuntimeError as e:  # SentencePiece: "INTERNAL: src/x.cc(744) [check] Vocabulary size too high ..."
        raise ValueError(f"SentencePiece refused: {str(e).rsplit('] ', 1)[-1].strip()}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{result.kind} tokenizer, {result.vocab_size} pieces, from {result.sentences} sentences: {out}")
    return 0
