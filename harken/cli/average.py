"""harken average --out MODEL.nemo RUN/checkpoints/step_11000.ckpt RUN/checkpoints/step_12000.ckpt ...
harken average --out MIX.nemo BASE.nemo FINETUNED.nemo --weights 0.4 0.6   # interpolate a fine-tuned model

With one file and `--half` it is a converter: the same model with float16 weights.

Checkpoints kept with `+trainer.keep_checkpoint_every_n_steps=N` (or any `.ckpt`/`.nemo` of one architecture).
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoints", nargs="+", help=".ckpt or .nemo files of one model architecture")
    p.add_argument("--out", required=True, help="where the averaged model is written (.nemo)")
    p.add_argument("--weights", type=float, nargs="+", metavar="W",
                   help="one weight per checkpoint (scaled to sum to 1): a weighted mean instead of the plain one")
    p.add_argument("--half", action="store_true",
                   help="store the weights as float16 (half the size; loads back into float32)")


def run(args: argparse.Namespace) -> int:
    from harken.training.averaging import average_models

    model = average_models(args.checkpoints, args.weights)
    model.save(args.out, half=args.half)
    what = f"the mean of {len(args.checkpoints)} checkpoints" if len(args.checkpoints) > 1 else args.checkpoints[0]
    if args.weights:
        what = f"the weighted mean ({', '.join(f'{w:g}' for w in args.weights)}) of {len(args.checkpoints)} checkpoints"
    print(f"{args.out}: {what}{' (float16 weights)' if args.half else ''}")
    return 0
