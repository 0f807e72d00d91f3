"""harken train CONFIG [key=value ...] [--out DIR] [--resume]"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="YAML config in NeMo's layout (model/trainer/exp_manager sections); "
                                  "a bare name (quick, quartznet_5x5, ...) picks a shipped config")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.optim.lr=0.001 trainer.max_epochs=5; "
                                                "init_from=NAME|PATH starts from a checkpoint's weights")
    p.add_argument("--out", help="run folder (checkpoints, logs, model.nemo)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.ckpt")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from harken.configs import load_named_config
    from harken.core.config import apply_overrides
    from harken.training.init_from import CONFIG_KEYS
    from harken.training.run import train

    # init_from=... may be given without `+` although NeMo-layout configs have no such key
    overrides = [f"+{o}" if o.split("=", 1)[0].split(".")[0] in CONFIG_KEYS else o for o in args.overrides]
    cfg = apply_overrides(load_named_config(args.config), overrides)
    final = train(cfg, out=args.out, resume=args.resume, progress=not args.no_progress)
    print(f"saved {final}")
    return 0
