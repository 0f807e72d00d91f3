"""WER by utterance kind (the `kind` field synth writes: spelled, digits, command, sentence), or by voice.

    python recipes/harken_en_small/wer_by_kind.py --model M --manifest TEST.json [--by voice] [--out hyps.tsv]

The spelled test set mixes letter-spelled names, digit strings and commands; its overall WER hides which
of them moved. `--by voice` groups by the espeak-ng voice without its variant ("en-gb-x-gbclan+m6" counts as
"en-gb-x-gbclan"): the held-out accents are where the sentences' errors are. `--out` keeps the group,
reference and hypothesis per line for reading the errors.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

import torch

import harken
from harken.metrics.evaluate import evaluate
from harken.metrics.wer import ErrorCounts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--manifest", required=True, type=Path)
    p.add_argument("--by", choices=("kind", "voice"), default="kind", help="manifest field to group by")
    p.add_argument("--out", type=Path, help="TSV of group, reference, hypothesis")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = harken.load(args.model)
    result = evaluate(model, args.manifest)
    rows = result.predictions  # manifest rows (with `kind` and `voice`) and `pred_text`
    groups = [str(row.get(args.by, "?")) for row in rows]
    if args.by == "voice":  # "en-gb-x-gbclan+m6" -> "en-gb-x-gbclan": the accent, not the variant
        groups = [g.split("+")[0] for g in groups]
    by_group: dict[str, ErrorCounts] = defaultdict(ErrorCounts)
    for group, errors in zip(groups, result.utterance_words):
        by_group[group] += errors
    counts = Counter(groups)
    for group in sorted(by_group):
        print(f"{group:20s} {counts[group]:5d} utterances  WER {100 * by_group[group].rate:6.2f}%")
    if args.out:
        args.out.write_text("".join(f"{g}\t{r['text']}\t{r['pred_text']}\n" for g, r in zip(groups, rows)))


if __name__ == "__main__":
    main()
