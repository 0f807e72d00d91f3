"""`harken train`: a config in, a trained `.nemo` out.

Run folder layout (`--out DIR`, default `exp_manager.exp_dir/name` or `runs/<name>`):
    DIR/checkpoints/last.ckpt, best.ckpt     atomic, resumable (`--resume`)
    DIR/logs/csv/..., DIR/logs/tensorboard/  metrics (and W&B / MLflow when `exp_manager:` asks: loggers.py)
    DIR/config.yaml                          the resolved config that ran
    DIR/model.nemo                           the final model (best val_wer if validated, else last)
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from harken.core.atomic import atomic_write_text
from harken.core.config import dump_config, resolve
from harken.core.memory import reuse_freed_memory
from harken.models.base import SpeechModel, family_class
from harken.models.classifier import SpeechClassifier
from harken.models.ctc_model import CTCModel
from harken.models.transducer_model import TransducerModel
from harken.training.checkpointing import AtomicCheckpointIO, CheckpointPolicy
from harken.training.classifier_task import ClassifierTask, classifier_family
from harken.training.config_check import BUILD_ERRORS, Where, check_training_config, lightning_errors, model_error
from harken.training.ctc_task import CTCTask
from harken.training.init_from import init_spec, initialize_from
from harken.training.loggers import build_loggers, remember_ids
from harken.training.run_guard import check_resume, check_run_dir, clear_run, primary_process
from harken.training.tracking import close, log_artifacts, log_params
from harken.training.transducer_task import TransducerObjective

log = logging.getLogger("harken.train")

# our batch sampler restores its position itself (see CTCTask.on_save_checkpoint); Lightning cannot see that
warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")
warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*")

# keys of NeMo's `trainer:` section that harken passes to Lightning unchanged
TRAINER_KEYS = {
    "devices", "accelerator", "num_nodes", "strategy", "precision", "max_epochs", "max_steps",
    "min_epochs", "min_steps", "val_check_interval", "check_val_every_n_epoch", "log_every_n_steps",
    "gradient_clip_val", "gradient_clip_algorithm", "accumulate_grad_batches", "num_sanity_val_steps",
    "limit_train_batches", "limit_val_batches", "deterministic", "benchmark", "enable_progress_bar",
    "enable_model_summary", "sync_batchnorm", "fast_dev_run",
}


def run_dir_for(cfg: dict, out: str | None) -> Path:
    if out:
        return Path(out)
    exp = cfg.get("exp_manager") or {}
    return Path(exp.get("exp_dir") or "runs") / str(exp.get("name") or cfg.get("name") or "harken")


def trainer_kwargs(cfg: dict) -> dict[str, Any]:
    section = dict(cfg.get("trainer") or {})  # keys harken does not use were reported by check_training_config
    kw = {k: v for k, v in section.items() if k in TRAINER_KEYS}
    if kw.get("strategy") == "ddp" and kw.get("accelerator", "auto") in ("cpu",) and not torch.cuda.is_available():
        kw["strategy"] = pl.strategies.DDPStrategy(process_group_backend="gloo")
    kw.setdefault("accelerator", "auto")
    kw.setdefault("devices", 1)
    kw.setdefault("log_every_n_steps", 10)
    return kw


def model_class(model_cfg: dict) -> type[SpeechModel]:
    """The family a training config builds: the one its `target:` names, else a classifier when its head is one,
    a transducer when it has a `joint` section (NeMo's training configs name no class: its scripts pick one),
    else CTC."""
    target = model_cfg.get("target")
    cls = family_class(target) if target else classifier_family(model_cfg) or (
        TransducerModel if model_cfg.get("joint") else CTCModel)
    if not issubclass(cls, (CTCModel, TransducerModel, SpeechClassifier)):
        raise ValueError(f"harken train trains CTC, transducer and classifier models, not {cls.__name__}")
    return cls


def build_task(model: SpeechModel) -> CTCTask:
    """The Lightning task for a model: the shared loop with its family's objective."""
    if isinstance(model, TransducerModel):
        return CTCTask(model, TransducerObjective.from_model(model))
    if isinstance(model, SpeechClassifier):
        return ClassifierTask(model)
    return CTCTask(model)


def train(cfg: dict, out: str | None = None, resume: bool = False, progress: bool = True,
          callbacks: list[pl.Callback] | None = None, overwrite: bool = False, where: Where | None = None) -> Path:
    """Train the config's model; returns the path of the saved `.nemo`. `callbacks` are extra Lightning ones;
    `overwrite` starts over in a folder that holds a run; `where` says where a config key was set (messages)."""
    where = where or (lambda key: "config")
    reuse_freed_memory()  # 1.2-1.6x faster steps for FastConformers (harken/core/memory.py)
    cfg = resolve(cfg)
    check_training_config(cfg, where)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)  # no GPU/TPU/tips chatter
    run_dir = run_dir_for(cfg, out)
    ckpt_dir = run_dir / "checkpoints"
    if primary_process():
        check_run_dir(run_dir, resume, overwrite)
    seed = int((cfg.get("trainer") or {}).get("seed", cfg.get("seed", 0)) or 0)
    pl.seed_everything(seed, workers=True, verbose=False)

    try:
        model = model_class(cfg["model"]).from_config(cfg["model"])
    except BUILD_ERRORS as e:
        raise model_error(e, where) from None
    init = init_spec(cfg)
    if init and not resume:  # a resumed run already has its weights in the checkpoint
        initialize_from(model, **init)
    task = build_task(model)
    section = cfg.get("trainer") or {}
    policy = CheckpointPolicy(ckpt_dir, every_n_steps=int(section.get("checkpoint_every_n_steps", 0) or 0),
                              keep_every_n_steps=int(section.get("keep_checkpoint_every_n_steps", 0) or 0),
                              monitor=getattr(task, "monitor", "val_wer"))
    loggers = build_loggers(cfg, run_dir, resume=resume)
    kw = trainer_kwargs(cfg)
    kw.setdefault("enable_progress_bar", progress)
    with lightning_errors(where, building=True):
        trainer = pl.Trainer(
            **kw,
            logger=loggers,
            callbacks=[policy, *(callbacks or [])],
            enable_checkpointing=False,
            use_distributed_sampler=False,  # our batch sampler shards by rank itself
            plugins=[AtomicCheckpointIO()],
            default_root_dir=str(run_dir),
        )
    ckpt_path = None
    if resume:
        if primary_process():
            check_resume(policy.last_path, policy.best_path, task)
        ckpt_path = str(policy.last_path)
    if overwrite and not resume and primary_process():
        clear_run(run_dir)
    if trainer.is_global_zero:
        atomic_write_text(run_dir / "config.yaml", dump_config(cfg))
    ok = False
    try:
        if trainer.is_global_zero:
            log_params(loggers, cfg)
            remember_ids(loggers, run_dir)
        with lightning_errors(where):
            trainer.fit(task, ckpt_path=ckpt_path)
        final = run_dir / "model.nemo"
        if trainer.is_global_zero:
            if policy.best_path.exists():
                state = torch.load(policy.best_path, map_location="cpu", weights_only=True)["state_dict"]
                task.load_state_dict(state)
            model.save(final)
            log_artifacts(loggers, final, run_dir / "config.yaml")
        ok = True
    finally:
        if trainer.is_global_zero:
            close(loggers, ok)
    return final
