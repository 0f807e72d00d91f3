"""A sweep worker: starts trials one at a time until the study holds the asked number. `harken sweep` runs one
in its own process (`--jobs 1`) or several as spawned processes (sweep_parallel.py) on the same study."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harken.training.sweep_space import SweepSpec


@dataclasses.dataclass(frozen=True)
class SweepJob:
    """What a worker needs (picklable: workers are spawned processes)."""

    out: Path
    config: dict
    spec: SweepSpec
    method: str
    trials: int
    seed: int
    parent: int = 0  # the sweep's pid when run by a worker process; 0 in-process
    threads: int = 0


def work(job: SweepJob, worker: int = 0, stop: Any = None) -> None:
    """Run trials until the study holds `job.trials` (or another worker failed, or the sweep process is gone).

    "Count, then start a trial" happens under a file lock that the trial releases once it is RUNNING, so
    parallel workers never start more than `job.trials`. One `optimize` call per trial lets Optuna record each
    outcome (and lets GridSampler stop the study when the grid is done)."""
    from harken.training import sweep_study as studies

    study = studies.load(job.out, job.spec)
    # a fresh seed per worker and per resumption, so a resumed random sweep does not repeat its first draws
    study.sampler = studies.sampler(job.method, job.spec, job.seed + len(study.trials) + 7919 * worker)
    while True:
        with studies.ask_lock(job.out) as release:
            if studies.counted(study) >= job.trials or (stop is not None and stop.is_set()):
                return
            if job.parent and not studies.parent_alive(job.parent):
                return
            number = _run_one(study, job, release)
        if number is None:  # the grid was done
            return
        _report(study, job, number)


def _run_one(study: Any, job: SweepJob, release: Callable[[], None]) -> int | None:
    """One trial through Optuna's `optimize`; returns its number (None if no trial started)."""
    from harken.training.sweep_trial import Diverged, objective

    started: list[int] = []

    def run(trial: Any) -> float:
        started.append(trial.number)
        release()
        return objective(trial, job.config, job.spec, job.out)

    study.optimize(run, n_trials=1, catch=(Diverged,), gc_after_trial=False)
    return started[0] if started else None


def _report(study: Any, job: SweepJob, number: int) -> None:
    """A line per finished trial, and the results table rewritten."""
    from harken.training.sweep_results import result_rows, trial_name, write_results
    from harken.training.sweep_study import FINISHED

    trial = study.get_trials(deepcopy=False)[number]  # numbers run 0, 1, ... within a study
    value = trial.user_attrs.get("best_value")
    shown = f"{job.spec.metric}={value:.4g} " if isinstance(value, float) else ""
    finished = len(study.get_trials(deepcopy=False, states=FINISHED))
    print(f"{trial_name(number)} {trial.state.name.lower()} {shown}[{finished}/{job.trials}]", flush=True)
    write_results(job.out, result_rows(study, job.spec), job.spec)
