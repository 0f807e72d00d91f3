"""Connects a training run to its Optuna trial: the swept metric goes to the trial after every validation, and
the pruner's verdict stops the run early.

The run is stopped with `trainer.should_stop` rather than an exception raised inside Lightning's loop, so a
pruned trial ends like any other (last checkpoint, model.nemo, tracker runs closed) and the sweep raises
`TrialPruned` afterwards. Values are reported at the global step, which orders them across trials that
validate on the same schedule (once an epoch, or every `val_check_interval` steps).
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl


class TrialReporter(pl.Callback):
    def __init__(self, trial: Any, metric: str, goal: str):
        self.trial = trial
        self.metric = metric
        self.sign = 1.0 if goal == "minimize" else -1.0
        self.best: float | None = None  # the trial's result: the best validation value of the run
        self.best_step: int | None = None
        self.pruned_at: int | None = None
        self._reported: set[int] = set()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        value = trainer.callback_metrics.get(self.metric)
        if value is None:
            return
        value, step = float(value), trainer.global_step
        if self._better(value):
            self.best, self.best_step = value, step
        if step in self._reported:  # a resumed or repeated validation at the same step
            return
        self._reported.add(step)
        self.trial.report(value, step)
        if self.trial.should_prune():
            self.pruned_at = step
            trainer.should_stop = True

    def _better(self, value: float) -> bool:
        if self.best is None or math.isnan(self.best):
            return True
        return not math.isnan(value) and self.sign * value < self.sign * self.best
