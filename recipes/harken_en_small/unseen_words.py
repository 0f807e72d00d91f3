"""How many of a test set's words never occur in the training transcripts.

    python recipes/harken_en_small/unseen_words.py --test TEST.json --train TRAIN1.json [TRAIN2.json ...]

Why: a character model can only guess the spelling of a word it never read; if few test words are unseen,
its errors are misspellings of words it was taught, which is a different problem (RESULTS.md, phase 9).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harken.data.manifest import iter_manifest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--test", required=True, type=Path)
    p.add_argument("--train", nargs="+", required=True, type=Path)
    args = p.parse_args()
    seen: set[str] = set()
    transcripts: set[str] = set()
    for manifest in args.train:
        for entry in iter_manifest(manifest):
            seen.update(entry.text.split())
            transcripts.add(entry.text)
    words = [w for entry in iter_manifest(args.test) for w in entry.text.split()]
    unseen = [w for w in words if w not in seen]
    print(f"training: {len(transcripts)} distinct transcripts, {len(seen)} distinct words")
    print(f"test: {len(words)} words, {len(unseen)} unseen in training ({100 * len(unseen) / len(words):.1f}%)")
    print("e.g.", " ".join(sorted(set(unseen))[:20]))


if __name__ == "__main__":
    main()
