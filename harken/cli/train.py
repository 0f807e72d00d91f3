"""harken train CONFIG [key=value ...] [--out DIR] [--resume | --overwrite]

A folder that holds a run is continued with --resume, never silently replaced: without --resume the command
refuses it, and --overwrite starts over there (removing the old checkpoints and model.nemo). A wrong value in
the config or an override is one line naming the key and where it was set (FILE:LINE or the override).
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--out", help="run folder (checkpoints, logs, model.nemo)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.ckpt")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run in an --out that holds one (its checkpoints and model.nemo are removed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """CONFIG and its overrides, shared with `harken sweep`."""
    p.add_argument("config", help="YAML config in NeMo's layout (model/trainer/exp_manager sections); "
                                  "a bare name (quick, quartznet_5x5, ...) picks a shipped config")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.optim.lr=0.001 trainer.max_epochs=5; "
                                                "init_from=NAME|PATH starts from a checkpoint's weights")


def config_origin(args: argparse.Namespace):
    """Where each key of the command line's config was set: the file (and line) or an override."""
    from harken.configs import config_path
    from harken.core.config import ConfigOrigin

    return ConfigOrigin(config_path(args.config), args.overrides)


def load_cli_config(args: argparse.Namespace) -> dict:
    """The config named on the command line with its overrides applied."""
    from harken.configs import load_named_config
    from harken.core.config import apply_overrides
    from harken.training.init_from import CONFIG_KEYS

    # init_from=... may be given without `+` although NeMo-layout configs have no such key
    overrides = [f"+{o}" if o.split("=", 1)[0].split(".")[0] in CONFIG_KEYS else o for o in args.overrides]
    return apply_overrides(load_named_config(args.config), overrides)


def run(args: argparse.Namespace) -> int:
    from harken.training.run import train

    final = train(load_cli_config(args), out=args.out, resume=args.resume, progress=not args.no_progress,
                  overwrite=args.overwrite, where=config_origin(args))
    print(f"saved {final}")
    return 0
