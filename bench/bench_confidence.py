"""Does word confidence mean something? Word error rate per confidence bin on a held-out test set.

    .venv/bin/python bench/bench_confidence.py --manifest $RUN_DIR/conf/test_manifest.json \
        [--model harken_en_small] [--table bench/RESULTS.md]

Each hypothesis word is paired with the reference by a minimal-edit alignment (harken.metrics.wer.alignment);
a word is wrong when it is a substitution or an insertion. Deletions have no hypothesis word, so no
confidence: they are counted apart. A useful confidence puts the wrong words in the low bins.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import torch

import harken
from harken.data.manifest import read_manifest
from harken.inference.pipeline import Transcriber
from harken.metrics.wer import alignment

BINS = [0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0001]


def word_outcomes(ref: str, words: list) -> tuple[list[tuple[float, bool]], int]:
    """(confidence, wrong) per hypothesis word, and the number of deleted reference words."""
    pairs = alignment(ref.split(), [w.word for w in words])
    out, k, deleted = [], 0, 0
    for r, h in pairs:
        if h is None:
            deleted += 1
            continue
        out.append((words[k].confidence, r != h))
        k += 1
    return out, deleted


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True)
    p.add_argument("--model", default="harken_en_small")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--table", help="append the table to this markdown file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = harken.from_pretrained(args.model, progress=False)
    entries = read_manifest(args.manifest)
    t0 = time.time()
    outcomes, deleted, utt = [], 0, []
    for entry, t in zip(entries, Transcriber(model, batch_size=8)(entries)):
        ref, _ = model.tokenizer.normalize(entry.text)
        o, d = word_outcomes(ref, t.words)
        outcomes += o
        deleted += d
        utt.append((t.confidence, sum(w for _, w in o) + d, len(ref.split())))
    lines = ["| word confidence | words | wrong | error rate |", "|---|---|---|---|"]
    for lo, hi in zip(BINS, BINS[1:]):
        sel = [w for c, w in outcomes if lo <= c < hi]
        rate = f"{100 * sum(sel) / len(sel):.1f}%" if sel else "-"
        lines.append(f"| [{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'} | {len(sel)} | {sum(sel)} | {rate} |")
    wrong = sum(w for _, w in outcomes)
    lines.append(f"| all | {len(outcomes)} | {wrong} | {100 * wrong / max(len(outcomes), 1):.1f}% |")
    utt.sort()
    half = len(utt) // 2
    low, high = utt[:half], utt[half:]
    wer = lambda rows: 100 * sum(e for _, e, _ in rows) / max(sum(n for _, _, n in rows), 1)  # noqa: E731
    name = Path(args.manifest).name
    summary = (f"{len(entries)} utterances ({name}), {len(outcomes)} hypothesis words, {deleted} deleted reference "
               f"words (they have no confidence). Utterances ranked by confidence: WER {wer(low):.1f}% in the less "
               f"confident half, {wer(high):.1f}% in the more confident half. {time.time() - t0:.0f} s.")
    table = "\n".join(lines)
    print(table)
    print(summary)
    if args.table:
        cmd = "    .venv/bin/python bench/bench_confidence.py --manifest " + args.manifest
        with open(args.table, "a") as f:
            f.write(f"\n## Word confidence ({date.today()}, {args.model}, 2 CPU cores)\n\n```\n{cmd}\n```\n\n"
                    f"{table}\n\n{summary}\n")


if __name__ == "__main__":
    main()
