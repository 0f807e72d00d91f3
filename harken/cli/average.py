"""harken average --out MODEL.nemo RUN/checkpoints/step_11000.ckpt RUN/checkpoints/step_12000.ckpt ...

Checkpoints kept with `+trainer.keep_checkpoint_every_n_steps=N` (or any `.ckpt`/`.nemo` of one architecture).
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoints", nargs="+", help=".ckpt or .nemo files of one model architecture")
    p.add_argument("--out", required=True, help="where the averaged model is written (.nemo)")


def run(args: argparse.Namespace) -> int:
    from harken.training.averaging import average_models

    model = average_models(args.checkpoints)
    model.save(args.out)
    print(f"{args.out}: the mean of {len(args.checkpoints)} checkpoints")
    return 0
