"""One sweep trial: the base config with the trial's sampled values, trained as an ordinary run in
`DIR/trial_NNNN/`, its result told to the study.

W&B and MLflow runs of a trial (when the config asks for them) are named `<name>-trial_NNNN`, grouped (W&B) or
tagged (MLflow, `sweep` and `trial`) by the sweep folder's name; MLflow's default store is `DIR/mlruns`.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import optuna

from harken.core.config import get_path, set_path
from harken.training.run import train
from harken.training.sweep_pruning import TrialReporter
from harken.training.sweep_results import trial_name
from harken.training.sweep_space import SweepError, SweepSpec

_MISSING = object()


def check_config(config: dict, spec: SweepSpec) -> None:
    """Fail before the first trial on keys the config lacks and on multi-process trials."""
    for p in spec.params:
        if not p.key.startswith("+") and get_path(config, p.key, _MISSING) is _MISSING:
            raise SweepError(f"{p.key}: no such key in the config (write +{p.key} to add it)")
    trainer = config.get("trainer") or {}
    devices, nodes = trainer.get("devices", 1), trainer.get("num_nodes", 1)
    one = devices in (None, 1, "1") or (isinstance(devices, list) and len(devices) == 1)
    if not one or nodes not in (None, 1, "1"):
        raise SweepError(f"sweep trials train on one device each (trainer.devices={devices!r}, "
                         f"num_nodes={nodes!r}); set trainer.devices=1 and use --jobs to run trials at once")


def trial_config(base: dict, params: dict[str, Any], number: int, sweep: str) -> dict:
    cfg = copy.deepcopy(base)
    for key, value in params.items():
        set_path(cfg, key.lstrip("+"), value)
    name = trial_name(number)
    exp = cfg.get("exp_manager") or {}
    if exp.get("create_wandb_logger"):
        kw = dict(exp.get("wandb_logger_kwargs") or {})
        kw["name"] = f"{kw.get('name') or sweep}-{name}"
        kw.setdefault("group", sweep)
        exp["wandb_logger_kwargs"] = kw
    if exp.get("create_mlflow_logger"):
        kw = dict(exp.get("mlflow_logger_kwargs") or {})
        kw["run_name"] = f"{kw['run_name']}-{name}" if kw.get("run_name") else name
        kw["tags"] = {**(kw.get("tags") or {}), "sweep": sweep, "trial": str(number)}
        exp["mlflow_logger_kwargs"] = kw
    return cfg


class Diverged(Exception):
    """The trial's metric came out NaN: the trial fails, the sweep goes on."""


def objective(trial: optuna.Trial, base: dict, spec: SweepSpec, out: Path) -> float:
    """Train the trial; its value is the best validation value of the metric during the run.

    Optuna's `optimize` records the outcome: `TrialPruned` -> pruned, `Diverged` -> failed (the sweep goes on),
    any other exception -> failed, and it goes on up (the sweep stops; the next invocation re-runs the trial)."""
    reporter = TrialReporter(trial, spec.metric, spec.goal)
    try:
        cfg = trial_config(base, spec.suggest(trial), trial.number, out.name)
        train(cfg, out=str(out / trial_name(trial.number)), progress=False, callbacks=[reporter])
        if reporter.best is None:
            raise SweepError(f"{spec.metric} was never logged: does the config validate (model.validation_ds, "
                             f"trainer.check_val_every_n_epoch) and is {spec.metric} a validation metric?")
    except BaseException as e:
        interrupted = isinstance(e, (KeyboardInterrupt, SystemExit))
        trial.set_user_attr("interrupted" if interrupted else "error", True if interrupted else f"{e}"[:500])
        raise
    trial.set_user_attr("best_value", reporter.best)
    trial.set_user_attr("best_step", reporter.best_step)
    if math.isnan(reporter.best):
        trial.set_user_attr("diverged", True)
        raise Diverged(f"{trial_name(trial.number)}: {spec.metric} is NaN (the run diverged)")
    if reporter.pruned_at is not None:
        trial.set_user_attr("pruned_at", reporter.pruned_at)
        raise optuna.TrialPruned(f"pruned at step {reporter.pruned_at}")
    return reporter.best
