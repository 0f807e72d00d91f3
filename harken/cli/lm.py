"""harken lm build [TEXT...] [--manifest M ...] --out lm.arpa [--order 3] [--exclude MANIFEST ...]

Text files hold sentences (one per line, or running text split at . ! ?); manifests give their
utterances' texts (a training set's transcripts: spelled letters and commands as well as sentences). All
are normalised as `harken data synth` normalises its sentences (lower case, numbers as words, punctuation
dropped), the form an English character model writes. `--exclude` leaves out every sentence that is the
text of a manifest's utterance, so a test set's sentences do not leak into the LM.

Text that is not UTF-8 is refused with its file and line. --out never replaces an input, nor an existing
file without --overwrite; it is written atomically.
"""

from __future__ import annotations

import argparse

from harken.cli import safety


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["build"])
    p.add_argument("texts", nargs="*", help="text files")
    p.add_argument("--manifest", action="append", default=[], help="manifest whose texts to learn from")
    p.add_argument("--out", required=True, help="ARPA file to write")
    p.add_argument("--order", type=safety.positive_int, default=3)
    p.add_argument("--exclude", action="append", default=[], help="manifest whose texts to leave out")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harken.data.manifest import read_lines, read_manifest
    from harken.decoding.ngram_lm import build, write_arpa
    from harken.synth.normalize import normalize_sentence
    from harken.synth.texts import SentencePool

    if not args.texts and not args.manifest:
        raise ValueError("give text files or --manifest (or both) to learn from")
    safety.protect_outputs([Path(args.out)], [*args.texts, *args.manifest, *args.exclude], args.overwrite,
                           "choose another --out")
    for path in args.texts:  # a regular UTF-8 file, or an error naming the file and line
        for _ in read_lines(path, "text file"):
            pass
    excluded = {normalize_sentence(e.text) for m in args.exclude for e in read_manifest(m)}
    sentences = [s for path in args.texts for s in SentencePool(path, min_words=1, max_words=10**6).sentences]
    sentences += [t for m in args.manifest for e in read_manifest(m) if (t := normalize_sentence(e.text))]
    kept = [s for s in sentences if s not in excluded]
    lm = build(kept, order=args.order)
    write_arpa(lm, args.out)
    print(f"{lm} from {len(kept)} sentences ({len(sentences) - len(kept)} excluded): {args.out}")
    return 0
