"""WER by utterance kind (the `kind` field synth writes: spelled, digits, command, sentence).

    python recipes/harken_en_small/wer_by_kind.py --model M --manifest TEST.json [--out hyps.tsv] [--threads 1]

The spelled test set mixes letter-spelled names, digit strings and commands; its overall WER hides which
of them moved. `--out` keeps kind, reference and hypothesis per line for reading the errors.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import torch

import harken
from harken.metrics.evaluate import evaluate
from harken.metrics.wer import ErrorCounts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--manifest", required=True, type=Path)
    p.add_argument("--out", type=Path, help="TSV of kind, reference, hypothesis")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = harken.load(args.model)
    result = evaluate(model, args.manifest)
    rows = result.predictions  # manifest rows (with `kind`) and `pred_text`
    by_kind: dict[str, ErrorCounts] = defaultdict(ErrorCounts)
    counts: dict[str, int] = defaultdict(int)
    for row, errors in zip(rows, result.utterance_words):
        kind = str(row.get("kind", "?"))
        by_kind[kind] += errors
        counts[kind] += 1
    for kind in sorted(by_kind):
        print(f"{kind:10s} {counts[kind]:5d} utterances  WER {100 * by_kind[kind].rate:6.2f}%")
    if args.out:
        args.out.write_text("".join(f"{r.get('kind', '?')}\t{r['text']}\t{r['pred_text']}\n" for r in rows))


if __name__ == "__main__":
    main()
