"""Checkpoints that are never half-written, and the policy for when to write them.

`AtomicCheckpointIO` writes each checkpoint to a temporary file beside the target and renames it
into place, so a crash or a full disk mid-save leaves the previous `last.ckpt` intact. Reading uses
`weights_only=True`: checkpoints hold tensors and plain Python values only.

`CheckpointPolicy` keeps `last.ckpt` (every N steps, after validation, at the end) and `best.ckpt`
(lowest val_wer), and, when asked, a `step_N.ckpt` every K steps that is never overwritten: the tail of a
run to average (`harken average`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.plugins import CheckpointIO

from harken.core.atomic import atomic_write_bytes


class AtomicCheckpointIO(CheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        atomic_write_bytes(path, buf.getvalue())

    def load_checkpoint(self, path: str | Path, map_location: Any = None, weights_only: bool | None = None) -> dict:
        try:
            return torch.load(path, map_location=map_location or "cpu", weights_only=True)
        except Exception as e:
            raise RuntimeError(f"{path}: cannot load checkpoint ({e})") from e

    def remove_checkpoint(self, path: str | Path) -> None:
        Path(path).unlink(missing_ok=True)


class CheckpointPolicy(pl.Callback):
    def __init__(self, dirpath: str | Path, every_n_steps: int = 0, monitor: str = "val_wer",
                 keep_every_n_steps: int = 0):
        self.dirpath = Path(dirpath)
        self.every_n_steps = every_n_steps
        self.keep_every_n_steps = keep_every_n_steps
        self.monitor = monitor
        self.best: float | None = None
        self._saved_step = self._kept_step = -1

    @property
    def last_path(self) -> Path:
        return self.dirpath / "last.ckpt"

    @property
    def best_path(self) -> Path:
        return self.dirpath / "best.ckpt"

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        step = trainer.global_step
        if self.every_n_steps and step % self.every_n_steps == 0 and step != self._saved_step:
            self._saved_step = step  # with gradient accumulation several batches share a step
            trainer.save_checkpoint(self.last_path, weights_only=False)
        keep = self.keep_every_n_steps
        if keep and step % keep == 0 and step != self._kept_step:
            self._kept_step = step
            trainer.save_checkpoint(self.dirpath / f"step_{step}.ckpt", weights_only=False)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is not None and (self.best is None or float(value) < self.best):
            self.best = float(value)
            trainer.save_checkpoint(self.best_path, weights_only=False)
        trainer.save_checkpoint(self.last_path, weights_only=False)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.save_checkpoint(self.last_path, weights_only=False)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best")
