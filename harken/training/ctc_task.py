"""Lightning wrapper that trains a speech-to-text model (CTC by default; transducers via an objective).

The model itself stays a plain `nn.Module` (usable without Lightning); this class adds the loop
pieces: batches -> loss, validation WER, optimizer/schedule, and the sampler position saved in every
checkpoint so a resumed run continues with exactly the next batch. What a batch computes (loss, greedy
texts) is the *objective*'s: `CTCObjective` here, `TransducerObjective` in transducer_task.py, so every
family shares the data, checkpoint and resume machinery.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch

from harken.metrics.wer import ErrorCounts, char_errors, word_errors
from harken.models.ctc_model import ASRModel
from harken.training.data import build_dataset, build_loader, build_shard_loader
from harken.training.optim import build_optimizer, build_scheduler


class CTCObjective:
    """CTC: the mean per-utterance CTC loss, and greedy texts for validation."""

    def loss(self, model: ASRModel, batch: tuple) -> dict[str, torch.Tensor]:
        """A training batch -> {"loss": the value to minimise, ...: other values worth logging}."""
        audio, audio_len, tokens, token_len = batch
        log_probs, enc_len, _ = model(audio, audio_len)
        return {"loss": model.ctc_loss(log_probs, enc_len, tokens, token_len)}

    def validate(self, model: ASRModel, batch: tuple) -> tuple[torch.Tensor, list[str]]:
        """A validation batch -> (loss, greedy texts)."""
        audio, audio_len, tokens, token_len = batch
        log_probs, enc_len, _ = model(audio, audio_len)
        return model.ctc_loss(log_probs, enc_len, tokens, token_len), model.decode(log_probs, enc_len)


class CTCTask(pl.LightningModule):
    def __init__(self, model: ASRModel, objective=None):
        """`objective`: what a batch computes (`CTCObjective()` by default; see transducer_task.py)."""
        super().__init__()
        self.model = model
        self.objective = objective or CTCObjective()
        self._train_loader = None
        self._resume_sampler_state: dict | None = None
        self._consumed = 0  # batches of the current epoch that completed an optimizer step
        self._val = [ErrorCounts(), ErrorCounts()]  # words, characters

    @property
    def cfg(self) -> dict:
        return self.model.cfg

    # ------------------------------------------------------------------ data
    def train_dataloader(self):
        if self.cfg["train_ds"].get("shards"):
            self._train_loader = build_shard_loader(self.cfg["train_ds"], self.model.tokenizer, self.model.sample_rate,
                                                    rank=self.global_rank, world_size=self.trainer.world_size)
            return self._train_loader
        loader = build_loader(self.cfg["train_ds"], self._dataset(self.cfg["train_ds"], True), train=True,
                              rank=self.global_rank, world_size=self.trainer.world_size)
        if self._resume_sampler_state is not None:
            loader.batch_sampler.load_state_dict(self._resume_sampler_state)  # kept until the epoch ends
        self._train_loader = loader
        return loader

    def val_dataloader(self):
        ds_cfg = self.cfg.get("validation_ds")
        if not ds_cfg or not ds_cfg.get("manifest_filepath"):
            return []
        return build_loader(ds_cfg, self._dataset(ds_cfg, False), train=False, rank=self.global_rank,
                            world_size=self.trainer.world_size)

    def _dataset(self, ds_cfg: dict, train: bool):
        """The split's dataset (subclasses build theirs here: ClassifierTask's labels, training-only augmentation)."""
        return build_dataset(ds_cfg, self.model.tokenizer, self.model.sample_rate)

    # ------------------------------------------------------------------ steps
    def on_train_epoch_start(self) -> None:
        # Lightning sets the epoch only on `loader.sampler`/`batch_sampler.sampler`, not on a batch sampler
        sampler = self._train_loader.batch_sampler if self._train_loader is not None else None
        stream = self._train_loader.dataset if self._train_loader is not None else None
        for thing in (sampler, stream):
            if hasattr(thing, "set_epoch"):
                thing.set_epoch(self.current_epoch)
        self._consumed = getattr(sampler, "resume_offset", 0)

    def training_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
        values = self.objective.loss(self.model, batch)
        loss, size = values["loss"], batch[0].shape[0]
        self._consumed = batch_idx + 1  # Lightning continues batch_idx within a resumed epoch
        self.log("train_loss", loss, prog_bar=True, batch_size=size)
        for name, value in values.items():
            if name != "loss":
                self.log(f"train_{name}", value, batch_size=size)
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"], prog_bar=False, batch_size=1)
        return loss

    def on_train_epoch_end(self) -> None:
        self._resume_sampler_state = None  # Lightning may build the loader more than once while restoring

    def on_validation_epoch_start(self) -> None:
        self._val = [ErrorCounts(), ErrorCounts()]

    def validation_step(self, batch: tuple, batch_idx: int) -> None:
        _, _, tokens, token_len = batch
        loss, hyps = self.objective.validate(self.model, batch)
        self.log("val_loss", loss, sync_dist=True, batch_size=tokens.shape[0])
        tok = self.model.tokenizer
        for hyp, ids, n in zip(hyps, tokens.tolist(), token_len.tolist()):
            ref = tok.decode(ids[:n])
            self._val[0] += word_errors(ref, hyp)
            self._val[1] += char_errors(ref, hyp)

    def on_validation_epoch_end(self) -> None:
        counts = torch.tensor([[c.errors, c.reference_length] for c in self._val], dtype=torch.float64,
                              device=self.device)
        if self.trainer.world_size > 1:
            counts = self.all_gather(counts).sum(dim=0)
        wer, cer = (counts[:, 0] / counts[:, 1].clamp(min=1)).tolist()
        self.log("val_wer", wer, prog_bar=True, rank_zero_only=False)
        self.log("val_cer", cer, rank_zero_only=False)

    # ------------------------------------------------------------------ optim
    def configure_optimizers(self) -> Any:
        optim_cfg = dict(self.cfg.get("optim") or {"name": "adamw", "lr": 1e-3})
        optimizer = build_optimizer(self.model.parameters(), optim_cfg)
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = build_scheduler(optimizer, optim_cfg.get("sched"), total)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self._train_loader is not None and hasattr(self._train_loader.batch_sampler, "state_dict"):
            checkpoint["harken_sampler"] = self._train_loader.batch_sampler.state_dict(
                batches_consumed=self._consumed
            )
        checkpoint["harken_config"] = self.model.export_config()
        checkpoint["harken_artifacts"] = dict(getattr(self.model, "artifacts", {}) or {})  # e.g. tokenizer.model

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._resume_sampler_state = checkpoint.get("harken_sampler")
