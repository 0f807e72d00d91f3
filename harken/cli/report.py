"""harken report RUN_DIR [--out RUN_DIR/report.html] [--overwrite]

A page about a training run (harken/report/run_page.py): loss, validation WER and learning-rate curves as
pictures from the run's CSV logs, the final metrics and the config. Written atomically; an existing page is
replaced only with --overwrite.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harken.cli import safety


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `harken train --out RUN_DIR`")
    p.add_argument("--out", help="the page to write (default: RUN_DIR/report.html)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def run(args: argparse.Namespace) -> int:
    from harken.report.run_page import build_run_report

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: not a folder (give the run folder of `harken train --out`)")
    out = Path(args.out) if args.out else run_dir / "report.html"
    inputs = [*run_dir.glob("logs/csv/version_*/metrics.csv"), run_dir / "config.yaml", run_dir / "model.nemo"]
    safety.protect_outputs([out], inputs, args.overwrite, "choose another --out")
    print(f"report: {build_run_report(run_dir, out)}")
    return 0
