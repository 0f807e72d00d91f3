"""The Optuna study behind a sweep folder: SQLite storage in `DIR/sweep.db`, samplers, the pruner, the locks
that keep two sweeps off one folder, and the recovery of trials that a killed sweep left running.

Resume rule: a trial still RUNNING when the sweep starts was interrupted (the folder lock proves nobody else
runs it); it is marked FAIL with the user attribute `interrupted`, and every failed trial that no later trial
retries is queued again with the same parameters (user attribute `retry_of`), so a sweep killed in the middle
of trial 3 re-runs trial 3's parameters as a new trial and still ends with N finished trials. A trial that
failed with an error is retried the same way on the next invocation; one whose metric came out NaN (a diverged
run) is not, and simply does not count towards N.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
from optuna.trial import TrialState

from harken.training.sweep_space import SweepError, SweepSpec

STUDY = "harken-sweep"
DB, LOCK, ASK_LOCK = "sweep.db", "sweep.lock", "sweep.ask.lock"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
COUNTED = (*FINISHED, TrialState.RUNNING)

try:
    import fcntl
except ImportError:  # Windows: no folder locks; do not run two sweeps on one folder there
    fcntl = None


def storage(out: Path) -> optuna.storages.RDBStorage:
    # a generous SQLite busy timeout: parallel workers write the same file
    return optuna.storages.RDBStorage(f"sqlite:///{(out / DB).resolve()}",
                                      engine_kwargs={"connect_args": {"timeout": 120}})


def sampler(method: str, spec: SweepSpec, seed: int) -> optuna.samplers.BaseSampler:
    if method == "grid":
        return optuna.samplers.GridSampler(spec.grid(), seed=seed)
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    if spec.pruner is None:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(**{k: v for k, v in spec.pruner.items() if k != "type"})


def open_study(out: Path, spec: SweepSpec, method: str, seed: int, config_text: str) -> optuna.Study:
    """Create the study, or load it and check that it sweeps the same space over the same config."""
    study = optuna.create_study(storage=storage(out), study_name=STUDY, load_if_exists=True,
                                direction=spec.goal, sampler=sampler(method, spec, seed), pruner=pruner(spec))
    identity, digest = spec.identity(), hashlib.sha256(config_text.encode()).hexdigest()
    attrs = study.user_attrs
    if not attrs:
        study.set_user_attr("space", identity)
        study.set_user_attr("config_sha256", digest)
    elif attrs.get("space") != identity:
        raise SweepError(f"{out} holds a sweep of another search space (its own is {out / 'sweep.yaml'}); "
                         f"use a new --out to start a new sweep")
    elif attrs.get("config_sha256") != digest:
        raise SweepError(f"{out} holds a sweep of another config or overrides (its own is {out / 'config.yaml'}); "
                         f"use a new --out to start a new sweep")
    return study


def load(out: Path, spec: SweepSpec) -> optuna.Study:
    """The study as a worker opens it (the worker then gives it its own sampler)."""
    return optuna.load_study(study_name=STUDY, storage=storage(out), pruner=pruner(spec))


def counted(study: optuna.Study) -> int:
    """Trials that count towards --trials: finished (complete or pruned) or running now."""
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def recover(study: optuna.Study) -> list[int]:
    """Mark trials left RUNNING by a killed sweep as failed and queue every unretried failure again.

    Call only while holding the folder lock. Returns the numbers of the trials queued again."""
    store = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        store.set_trial_user_attr(t._trial_id, "interrupted", True)
        store.set_trial_state_values(t._trial_id, TrialState.FAIL)
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    again = [t for t in trials if t.state == TrialState.FAIL and t.number not in retried and t.params
             and not t.user_attrs.get("diverged")]  # a NaN metric would come out NaN again
    for t in again:
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
    return [t.number for t in again]


class FolderLock:
    """One sweep per folder. The sweep takes it exclusively (failing at once if another holds it), recovers
    interrupted trials, then `share()`s it with its worker processes, which hold it shared until they exit:
    a worker left running by a killed sweep still keeps a new sweep off the folder until its trial ends."""

    def __init__(self, out: Path, shared: bool = False):
        self.path, self.shared = out / LOCK, shared
        self._file = None

    def __enter__(self) -> FolderLock:
        self._file = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        if fcntl is not None:
            try:
                fcntl.flock(self._file, fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._file.close()
                raise SweepError(f"another sweep is running on {self.path.parent} (one at a time per folder; "
                                 f"--jobs runs trials in parallel)") from None
        return self

    def share(self) -> None:
        if fcntl is not None:
            fcntl.flock(self._file, fcntl.LOCK_SH)

    def __exit__(self, *exc: object) -> None:
        self._file.close()  # releases the lock


@contextlib.contextmanager
def ask_lock(out: Path) -> Iterator[Callable[[], None]]:
    """Serialises "count the trials, then start one" across workers, so no more than --trials run.
    Yields `release`, to call as soon as the new trial is RUNNING (and so counted); leaving releases too."""
    if fcntl is None:
        yield lambda: None
        return
    with open(out / ASK_LOCK, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield lambda: fcntl.flock(f, fcntl.LOCK_UN)
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def parent_alive(parent: int) -> bool:
    """A worker whose sweep process died (killed) finishes its trial and stops instead of going on alone."""
    return os.getppid() == parent
