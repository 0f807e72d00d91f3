"""WER/CER of a model on the recipe's test sets (clean and degraded), as a markdown table with the command.

    python recipes/harken_en_small/evaluate_all.py --model exp/harken_en_small/model.nemo \
        --data data/harken_en_small --out exp/harken_en_small/results.md [--lm lm.arpa --alpha A --beta B]

Greedy decoding unless `--lm` or `--beam-size` is given (the options of `harken eval`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import harken
from harken.cli.decoding_options import add_decoding_arguments, decoder_from_args
from harken.metrics.evaluate import evaluate

CONDITIONS = ["clean", "noise10", "reverb", "telephone", "speed0.9", "speed1.1"]


def manifest_for(data: Path, test_set: str, condition: str) -> Path:
    if condition == "clean":
        return data / f"test_{test_set}.json"
    return data / f"test_{test_set}_{condition}" / "manifest.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--threads", type=int, default=2)
    add_decoding_arguments(p)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = harken.load(args.model)
    decoder = decoder_from_args(args, model)
    rows = []
    for test_set in ("spelled", "sentences"):
        for condition in CONDITIONS:
            manifest = manifest_for(args.data, test_set, condition)
            if not manifest.is_file():
                print(f"skipping {manifest}: not made (stage 4 of run.sh)")
                continue
            r = evaluate(model, manifest, batch_size=16, progress=True, decoding=decoder)
            rows.append(f"| {test_set} | {condition} | {r.utterances} | {100 * r.wer:.2f} | {100 * r.cer:.2f} "
                        f"| {r.empty_outputs} |")
            print(rows[-1], flush=True)
    command = "python " + " ".join([sys.argv[0], *sys.argv[1:]])
    table = ("| test set | condition | utterances | WER % | CER % | empty outputs |\n|---|---|---|---|---|---|\n"
             + "\n".join(rows))
    args.out.write_text(f"`{command}`\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
