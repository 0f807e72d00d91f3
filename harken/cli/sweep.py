"""harken sweep CONFIG --space sweep.yaml --trials N --out DIR [--method random|grid|tpe] [--jobs J] [overrides]"""

from __future__ import annotations

import argparse

from harken.cli.train import add_config_arguments, load_cli_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--space", required=True, help="search space YAML: dotted keys with distributions, "
                                                  "metric, goal (see harken/training/sweep_space.py)")
    p.add_argument("--trials", type=int, required=True, help="finished trials the sweep folder should hold; "
                                                             "the same command resumes a killed sweep")
    p.add_argument("--out", required=True, help="sweep folder: sweep.db, trial_NNNN/ runs, results.md/.csv")
    p.add_argument("--method", choices=("random", "grid", "tpe"),
                   help="sampler (default: the space file's method, else tpe)")
    p.add_argument("--jobs", type=int, default=1, help="trials run at once, one process each (default 1)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")


def run(args: argparse.Namespace) -> int:
    from harken.training.sweep import run_sweep
    from harken.training.sweep_space import load_spec

    spec = load_spec(args.space)
    run_sweep(load_cli_config(args), spec, args.out, args.trials, method=args.method, jobs=args.jobs,
              seed=args.seed)
    return 0
