"""What a run records in its experiment trackers besides the metrics Lightning logs: the resolved config as
parameters at the start, the final `.nemo` (and config.yaml) as artifacts at the end, and a clean close so the
next run in the same process (a sweep's next trial) starts a new W&B run. A W&B run also gets the data table
at the start and the predictions table at the end (wandb_tables.py)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.loggers import Logger

from harken.core.config import load_config
from harken.training import wandb_tables

log = logging.getLogger("harken.train")


def log_params(loggers: list[Logger], cfg: dict) -> None:
    """The resolved config as hyperparameters: nested for W&B and CSV (hparams.yaml), flat with the dotted keys
    of harken's overrides (`model.optim.lr`) for MLflow and TensorBoard, whose parameters are flat.

    Lightning does this itself only for modules that call `save_hyperparameters`; the config is what matters.
    A W&B run also gets its table of data samples here, before training (wandb_tables.py)."""
    flat = flatten(cfg)
    for logger in loggers:
        if isinstance(logger, pl.loggers.MLFlowLogger):
            _mlflow_params(logger, flat)
        else:
            nested = isinstance(logger, (pl.loggers.WandbLogger, pl.loggers.CSVLogger))
            logger.log_hyperparams(cfg if nested else flat)
        if isinstance(logger, pl.loggers.WandbLogger):
            wandb_tables.log_data_table(logger.experiment, cfg)


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """`{"model": {"optim": {"lr": 1}}, "l": [{"a": 2}]}` -> `{"model.optim.lr": 1, "l.0.a": 2}`; lists of plain
    values stay one value (`[1, 2]` as text)."""
    if isinstance(node, dict) or (isinstance(node, list) and any(isinstance(v, (dict, list)) for v in node)):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        out: dict[str, Any] = {}
        for key, value in items:
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: str(node) if isinstance(node, list) else node}


def log_artifacts(loggers: list[Logger], model: Path, config: Path) -> None:
    """Attach the final model and its config to the W&B run (an artifact of type `model`) and the MLflow run;
    the W&B run also gets the final model's predictions table (wandb_tables.py)."""
    for logger in loggers:
        if isinstance(logger, pl.loggers.WandbLogger):
            _wandb_artifact(logger, model, config)
            try:
                wandb_tables.log_prediction_table(logger.experiment, load_config(config), model)
            except Exception as e:  # the model is saved: a table that fails must not fail the run
                log.warning("could not log the W&B predictions table: %s", e)
        elif isinstance(logger, pl.loggers.MLFlowLogger):
            for path in (model, config):
                logger.experiment.log_artifact(logger.run_id, str(path))


def close(loggers: list[Logger], ok: bool) -> None:
    """Finish the W&B run (Lightning leaves it open; a second `wandb.init` in the process would reuse it).

    MLflow and TensorBoard are closed by Lightning's own `finalize` at the end of fit or on an exception."""
    for logger in loggers:
        if isinstance(logger, pl.loggers.WandbLogger) and logger._experiment is not None:
            try:
                logger.experiment.finish(exit_code=0 if ok else 1)
            except Exception as e:  # never hide the training result behind a tracker's error
                log.warning("could not finish the W&B run: %s", e)


def _mlflow_params(logger: pl.loggers.MLFlowLogger, flat: dict[str, Any]) -> None:
    """MLflow parameters cannot change: a resumed run (say with a larger max_steps) logs only the new keys and
    names the changed ones; its config.yaml artifact, written at the end, is the config that finished."""
    logged = logger.experiment.get_run(logger.run_id).data.params
    fresh = {k: v for k, v in flat.items() if k not in logged}
    changed = sorted(k for k, v in flat.items() if k in logged and logged[k] != str(v)[:250])
    if changed:
        log.warning("MLflow run %s keeps its first values of %s (parameters cannot change)", logger.run_id,
                    ", ".join(changed))
    if fresh:
        logger.log_hyperparams(fresh)


def _wandb_artifact(logger: pl.loggers.WandbLogger, model: Path, config: Path) -> None:
    import wandb

    run = logger.experiment
    name = re.sub(r"[^\w.-]", "-", f"model-{run.id}")  # W&B artifact names: letters, digits, - _ .
    artifact = wandb.Artifact(name, type="model", metadata={"format": "nemo", "file": model.name})
    artifact.add_file(str(model))
    artifact.add_file(str(config))
    run.log_artifact(artifact, aliases=["latest", "final"])
