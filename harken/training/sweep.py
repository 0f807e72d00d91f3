"""`harken sweep`: hyperparameter search with Optuna over a training config, every trial an ordinary run.

    DIR/sweep.db                 Optuna's study (SQLite): what makes the sweep resumable
    DIR/sweep.yaml, config.yaml  the search space and the base config (config + overrides) it sweeps
    DIR/trial_0007/              a run folder: config.yaml, checkpoints/, logs/, model.nemo
    DIR/results.md, results.csv  the table, best first (sweep_results.py)

`--trials N` is the number of finished (complete or pruned) trials the folder should end with: running the same
command again after a kill carries on to N (sweep_study.py's `recover` re-runs the interrupted trial), and a
larger N extends a finished sweep. `--jobs J` runs J worker processes that share the study; each asks for its
next trial under a file lock, so exactly N trials run (sweep_worker.py, sweep_parallel.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harken.core.config import dump_config
from harken.training.extras import require
from harken.training.sweep_space import METHODS, SweepError, SweepSpec, dump_spec
from harken.training.sweep_worker import SweepJob, work


def run_sweep(config: dict, spec: SweepSpec, out: str | Path, trials: int, method: str | None = None,
              jobs: int = 1, seed: int = 0, echo: Callable[[str], Any] = print) -> list[dict[str, Any]]:
    """Run (or resume) the sweep in `out` until it holds `trials` finished trials; returns the table rows."""
    require("optuna", "sweep", "harken sweep")
    import optuna

    from harken.training import sweep_study as studies
    from harken.training.sweep_results import result_rows, trial_name, write_results
    from harken.training.sweep_trial import check_config

    method = method or spec.method or "tpe"
    if method not in METHODS:
        raise SweepError(f"--method: expected one of {', '.join(METHODS)}, got {method!r}")
    if trials < 1 or jobs < 1:
        raise SweepError("--trials and --jobs must be at least 1")
    check_config(config, spec)
    if method == "grid" and trials > spec.grid_size():
        echo(f"the grid has {spec.grid_size()} points: running {spec.grid_size()} trials, not {trials}")
        trials = spec.grid_size()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with studies.FolderLock(out) as lock:
        study = studies.open_study(out, spec, method, seed, dump_config(config))
        (out / "sweep.yaml").write_text(dump_spec(spec), encoding="utf-8")
        (out / "config.yaml").write_text(dump_config(config), encoding="utf-8")
        again = studies.recover(study)
        done = studies.counted(study)
        if done or again:
            redo = f"; re-running interrupted or failed {', '.join(map(trial_name, again))}" if again else ""
            echo(f"resuming {out}: {done} of {trials} trials done{redo}")
        job = SweepJob(out, config, spec, method, trials, seed)
        try:
            if jobs == 1:
                work(job)
            else:
                from harken.training.sweep_parallel import run_parallel

                lock.share()
                run_parallel(job, jobs)
        finally:  # the table of what finished, also when a trial failed or the sweep was interrupted
            rows = result_rows(study, spec)
            table = write_results(out, rows, spec)
    echo(table)
    return rows
