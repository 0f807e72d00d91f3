"""harken tokenizer train --manifest M [--manifest M2] --vocab-size N --type bpe|unigram|char --out DIR"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["train"])
    p.add_argument("--manifest", action="append", required=True, help="manifest(s) whose `text` to learn from")
    p.add_argument("--vocab-size", type=int, default=128)
    p.add_argument("--type", choices=["bpe", "unigram", "char"], default="bpe")
    p.add_argument("--out", required=True, help="folder for tokenizer.model, tokenizer.vocab, vocab.txt")
    p.add_argument("--lower", action="store_true", help="lower-case the text first")
    p.add_argument("--character-coverage", type=float, default=1.0)


def run(args: argparse.Namespace) -> int:
    from harken.text.train_tokenizer import train_tokenizer

    result = train_tokenizer(args.manifest, args.out, vocab_size=args.vocab_size, kind=args.type,
                             lower=args.lower, character_coverage=args.character_coverage)
    print(f"{result.kind} tokenizer, {result.vocab_size} pieces, from {result.sentences} sentences: {result.folder}")
    return 0
