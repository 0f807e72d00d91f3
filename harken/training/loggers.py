"""Lightning loggers from the config's `exp_manager:` section, with NeMo's keys.

    exp_manager:
      create_tensorboard_logger: true            # default: on when tensorboard is installed
      create_wandb_logger: false
      wandb_logger_kwargs: {project: asr, name: run1, tags: [a], offline: true, group: ..., entity: ...}
      create_mlflow_logger: false
      mlflow_logger_kwargs: {experiment_name: asr, tracking_uri: file:./mlruns, run_name: ..., tags: {k: v}}

The CSV logger is always on. `*_logger_kwargs` go to Lightning's WandbLogger / MLFlowLogger unchanged (W&B's
extra keys on to `wandb.init`), so NeMo configs carry over. Defaults chosen here: the W&B run is named after
the run folder and written under `DIR/logs/wandb`; MLflow writes to `$MLFLOW_TRACKING_URI`, else a file store
`mlruns/` beside the run folder, so the runs of one experiment folder (or one sweep) share a store. A resumed
run (`--resume`) continues the same W&B and MLflow runs: their ids are kept in `DIR/logs/tracking_ids.json`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.loggers import Logger

from harken.core.config import ConfigError
from harken.training.extras import available, require

IDS_FILE = "tracking_ids.json"
# read once: Lightning's MLFlowLogger calls mlflow.set_tracking_uri, which sets this variable for the rest of
# the process, and a second run in the same process (a test, a notebook) must not inherit the first one's store
_ENV_TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI")


def build_loggers(cfg: dict, run_dir: Path, resume: bool = False) -> list[Logger]:
    """The loggers the config asks for; a missing optional package fails here, before any training."""
    exp = cfg.get("exp_manager") or {}
    ids = _saved_ids(run_dir) if resume else {}
    loggers: list[Logger] = [pl.loggers.CSVLogger(run_dir / "logs", name="csv")]
    tensorboard = exp.get("create_tensorboard_logger")
    if tensorboard or (tensorboard is None and available("tensorboard")):
        require("tensorboard", "tensorboard", "TensorBoard logging (exp_manager.create_tensorboard_logger)")
        loggers.append(pl.loggers.TensorBoardLogger(run_dir / "logs", name="tensorboard"))
    if exp.get("create_wandb_logger"):
        loggers.append(_wandb(exp, run_dir, ids.get("wandb")))
    if exp.get("create_mlflow_logger"):
        loggers.append(_mlflow(exp, run_dir, ids.get("mlflow")))
    return loggers


def remember_ids(loggers: list[Logger], run_dir: Path) -> None:
    """Write the W&B / MLflow run ids, so that `--resume` continues those runs instead of starting new ones."""
    ids = {}
    for logger in loggers:
        if isinstance(logger, pl.loggers.WandbLogger):
            ids["wandb"] = logger.experiment.id
        elif isinstance(logger, pl.loggers.MLFlowLogger):
            ids["mlflow"] = logger.run_id
    if ids:
        path = run_dir / "logs" / IDS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(ids) + "\n", encoding="utf-8")


def _saved_ids(run_dir: Path) -> dict[str, str]:
    path = run_dir / "logs" / IDS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _kwargs(exp: dict, key: str) -> dict[str, Any]:
    value = exp.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"exp_manager.{key} must be a mapping, got {type(value).__name__}")
    return dict(value)


def _wandb(exp: dict, run_dir: Path, run_id: str | None) -> Logger:
    require("wandb", "wandb", "W&B logging (exp_manager.create_wandb_logger)")
    kw = _kwargs(exp, "wandb_logger_kwargs")
    kw.setdefault("name", run_dir.name)
    kw.setdefault("save_dir", str(run_dir / "logs"))
    Path(kw["save_dir"]).mkdir(parents=True, exist_ok=True)
    if run_id:
        kw.update(id=run_id, resume="allow")
    try:
        return pl.loggers.WandbLogger(**kw)
    except TypeError as e:
        raise ConfigError(f"exp_manager.wandb_logger_kwargs: {e}") from e


def _mlflow(exp: dict, run_dir: Path, run_id: str | None) -> Logger:
    require("mlflow", "mlflow", "MLflow logging (exp_manager.create_mlflow_logger)")
    kw = _kwargs(exp, "mlflow_logger_kwargs")
    kw.setdefault("experiment_name", str(exp.get("name") or "harken"))
    kw.setdefault("run_name", run_dir.name)
    save_dir = kw.pop("save_dir", None)
    uri = kw.get("tracking_uri") or _ENV_TRACKING_URI or ""
    if not uri:
        uri = Path(save_dir or run_dir.resolve().parent / "mlruns").resolve().as_uri()
    if uri.startswith("file:") or "://" not in uri:
        # MLflow 3 refuses file stores unless opted in; a config that names one (or the default) opts in
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    kw["tracking_uri"] = uri
    if kw.get("tags") is not None and not isinstance(kw["tags"], dict):
        raise ConfigError("exp_manager.mlflow_logger_kwargs.tags must be a mapping (name: value)")
    if run_id:
        kw["run_id"] = run_id
    try:
        return pl.loggers.MLFlowLogger(**kw)
    except TypeError as e:
        raise ConfigError(f"exp_manager.mlflow_logger_kwargs: {e}") from e
