"""Pick a run's final model by WER on several validation manifests together, and package it as a `.nemo`.

    python recipes/harken_en_small/select_checkpoint.py --out MODEL.nemo --manifests V1.json V2.json \
        --candidates RUN/checkpoints/best.ckpt RUN/checkpoints/last.ckpt

Why: `harken train` keeps the checkpoint with the lowest WER on the validation set it was given, and the
recipe's first corpora have no letter-spelled names in validation (the closed list of names is shared out
between training and test). A second validation set of AN4-style utterances in training voices
(run.sh stage 6, used from stage 8 on) covers them; this script scores every candidate on all manifests
(words pooled, as one set) and keeps the lowest. Ties go to the earlier candidate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from harken.metrics.evaluate import evaluate
from harken.metrics.wer import ErrorCounts
from harken.models.loading import load_model


def pooled_errors(model, manifests: list[Path]) -> tuple[ErrorCounts, int]:
    """Word errors over all manifests as one set, and how many utterances came out empty (the ship rule's check)."""
    total, empty = ErrorCounts(), 0
    for manifest in manifests:
        result = evaluate(model, manifest)
        total += result.words
        empty += result.empty_outputs
    return total, empty


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--candidates", nargs="+", required=True, type=Path, help=".ckpt or .nemo files")
    p.add_argument("--manifests", nargs="+", required=True, type=Path, help="validation manifests (pooled)")
    p.add_argument("--out", required=True, type=Path, help="where the chosen model is written (.nemo)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    best = None
    for path in args.candidates:
        model = load_model(path)
        errors, empty = pooled_errors(model, args.manifests)
        print(f"{path}: validation WER {100 * errors.rate:.2f}% ({errors.errors}/{errors.reference_length} words), "
              f"{empty} empty outputs")
        if best is None or errors.rate < best[0]:
            best = (errors.rate, path, model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    best[2].save(args.out)
    print(f"chose {best[1]} -> {args.out}")


if __name__ == "__main__":
    main()
