"""Training objective for transducers (RNNT, TDT, hybrid + CTC): what a batch computes inside `CTCTask`.

Read from the NeMo-layout model config:
    loss: {loss_name: default | warprnnt_numba | pytorch | tdt, <loss_name>_kwargs: {fastemit_lambda, clamp,
           durations, sigma, omega}}
    rnnt_reduction: mean_batch (NeMo's default; fast-conformer_transducer_bpe.yaml sets mean_volume)
    aux_ctc: {ctc_loss_weight: 0.3, ctc_reduction: mean_batch}          (hybrids)
    joint: {fuse_loss_wer: true, fused_batch_size: 4}                     (memory, see below)
A hybrid minimises (1 - w) x transducer + w x CTC, as NeMo's hybrid models do. Validation decodes greedily
with the transducer head.

Memory: the joint output is [B, T, U + 1, V (+ durations)]. With `joint.fuse_loss_wer` and
`fused_batch_size` set (NeMo's keys), the joint and loss run on that many utterances at a time, each chunk
cut to its own longest T and U, under activation checkpointing: only one chunk's joint is alive at a time
(its forward runs again during backward). Without them the whole batch is one chunk, cut the same way.
TDT's `omega` (a random switch to the RNNT loss in NeMo) is not applied: training stays reproducible.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch.utils.checkpoint import checkpoint

from harken.models.transducer_model import TransducerModel
from harken.training.transducer_loss import REDUCTIONS, reduce_losses, rnnt_loss, tdt_loss

log = logging.getLogger("harken.train")
RNNT_LOSSES = ("default", "warprnnt_numba", "warprnnt", "pytorch", "rnnt")
TDT_LOSSES = ("tdt", "tdt_pytorch")


@dataclass
class TransducerObjective:
    kind: str = "rnnt"  # "rnnt" or "tdt"
    durations: tuple[int, ...] = ()
    sigma: float = 0.0
    fastemit_lambda: float = 0.0
    clamp: float = 0.0  # > 0: the gradient w.r.t. the joint output is clipped to [-clamp, clamp]
    reduction: str = "mean_batch"
    ctc_weight: float = 0.0
    ctc_reduction: str = "mean_batch"
    chunk_rows: int | None = None

    @classmethod
    def from_model(cls, model: TransducerModel) -> TransducerObjective:
        cfg = model.cfg
        loss = dict(cfg.get("loss") or {})
        name = str(loss.get("loss_name", "default"))
        if name not in RNNT_LOSSES + TDT_LOSSES:
            raise ValueError(f"loss.loss_name={name!r}: harken trains {RNNT_LOSSES + TDT_LOSSES}")
        kwargs = dict(loss.get(f"{name}_kwargs") or (loss.get("warprnnt_numba_kwargs") if name == "default" else None)
                      or {})
        kind = "tdt" if name in TDT_LOSSES else "rnnt"
        if kind != model.model_type:
            raise ValueError(f"loss.loss_name={name!r} trains {kind} but the model is {model.model_type} "
                             "(decoding.model_type): make them agree")
        fastemit = float(kwargs.get("fastemit_lambda", 0.0) or 0.0)
        if kind == "tdt" and fastemit:
            raise NotImplementedError("FastEmit with the TDT loss: harken's TDT loss has none (set it to 0)")
        if kind == "tdt" and float(kwargs.get("omega", 0.0) or 0.0):
            log.info("loss.tdt_kwargs.omega=%s is not applied: harken's TDT loss is deterministic", kwargs["omega"])
        if kind == "tdt" and [int(d) for d in kwargs.get("durations", model.durations)] != list(model.durations):
            raise ValueError(f"loss.tdt_kwargs.durations {kwargs['durations']} != the model's {model.durations}")
        reduction = str(cfg.get("rnnt_reduction") or "mean_batch")
        aux = cfg.get("aux_ctc") or {}
        joint = cfg.get("joint") or {}
        chunk = joint.get("fused_batch_size") if joint.get("fuse_loss_wer") else None
        for what in (reduction, str(aux.get("ctc_reduction", "mean_batch"))):
            if what not in REDUCTIONS:
                raise ValueError(f"reduction {what!r}: use one of {REDUCTIONS}")
        return cls(kind=kind, durations=tuple(model.durations), sigma=float(kwargs.get("sigma", 0.0) or 0.0),
                   fastemit_lambda=fastemit, clamp=float(kwargs.get("clamp", 0.0) or 0.0), reduction=reduction,
                   ctc_weight=float(aux.get("ctc_loss_weight", 0.5)) if model.ctc_decoder is not None else 0.0,
                   ctc_reduction=str(aux.get("ctc_reduction", "mean_batch")),
                   chunk_rows=int(chunk) if chunk and int(chunk) > 0 else None)

    # ------------------------------------------------------------------ the objective protocol (CTCTask)
    def loss(self, model: TransducerModel, batch: tuple) -> dict[str, torch.Tensor]:
        audio, audio_len, tokens, token_len = batch
        encoded, enc_len = model(audio, audio_len)
        return self._losses(model, encoded, enc_len, tokens, token_len)

    def validate(self, model: TransducerModel, batch: tuple) -> tuple[torch.Tensor, list[str]]:
        audio, audio_len, tokens, token_len = batch
        encoded, enc_len = model(audio, audio_len)
        loss = self._losses(model, encoded, enc_len, tokens, token_len)["loss"]
        hyps = [model.decode_text(seq) for seq in model.decode_encoded(encoded, enc_len)]
        return loss, hyps

    # ------------------------------------------------------------------ pieces
    def _losses(self, model: TransducerModel, encoded: torch.Tensor, enc_len: torch.Tensor, tokens: torch.Tensor,
                token_len: torch.Tensor) -> dict[str, torch.Tensor]:
        transducer = self.transducer_loss(model, encoded, enc_len, tokens, token_len)
        if not self.ctc_weight:
            return {"loss": transducer}
        ctc = self.ctc_loss(model, encoded, enc_len, tokens, token_len)
        total = (1.0 - self.ctc_weight) * transducer + self.ctc_weight * ctc
        return {"loss": total, "transducer_loss": transducer.detach(), "ctc_loss": ctc.detach()}

    def transducer_loss(self, model: TransducerModel, encoded: torch.Tensor, enc_len: torch.Tensor,
                        tokens: torch.Tensor, token_len: torch.Tensor) -> torch.Tensor:
        """Encoder output [B, C, T] and targets -> the reduced transducer loss (impossible alignments: 0)."""
        joint = model.joint
        frames = joint.project_encoder(encoded.transpose(1, 2))  # [B, T, H]
        pred, _ = model.decoder.predict(tokens, None, add_sos=True)  # [B, U + 1, H]
        pred = joint.project_prednet(pred)
        rows = frames.shape[0]
        step = self.chunk_rows or rows
        losses = []
        for start in range(0, rows, step):
            sl = slice(start, start + step)
            t_max, u_max = int(enc_len[sl].max()), int(token_len[sl].max())
            args = (frames[sl, :t_max], pred[sl, : u_max + 1], tokens[sl, :u_max], enc_len[sl], token_len[sl])
            if step < rows and torch.is_grad_enabled():  # several chunks: keep only one joint alive
                losses.append(checkpoint(self._chunk_losses, joint, *args, use_reentrant=False))
            else:
                losses.append(self._chunk_losses(joint, *args))
        per_utt = torch.cat(losses)
        per_utt = torch.where(torch.isfinite(per_utt), per_utt, torch.zeros_like(per_utt))
        return reduce_losses(per_utt, token_len, self.reduction)

    def _chunk_losses(self, joint, frames: torch.Tensor, pred: torch.Tensor, tokens: torch.Tensor,
                      enc_len: torch.Tensor, token_len: torch.Tensor) -> torch.Tensor:
        """Per-utterance losses [b] of one chunk: its joint logits exist only inside this call."""
        logits = joint.joint_logits(frames[:, :, None], pred[:, None])  # [b, T, U + 1, V + 1 (+ D)]
        if self.clamp > 0 and logits.requires_grad:
            logits.register_hook(lambda g: g.clamp(-self.clamp, self.clamp))
        blank = joint.blank_id
        if self.kind == "tdt":
            return tdt_loss(logits, tokens, enc_len, token_len, blank, durations=self.durations, sigma=self.sigma,
                            reduction="none")
        return rnnt_loss(logits, tokens, enc_len, token_len, blank, reduction="none",
                         fastemit_lambda=self.fastemit_lambda)

    def ctc_loss(self, model: TransducerModel, encoded: torch.Tensor, enc_len: torch.Tensor, tokens: torch.Tensor,
                 token_len: torch.Tensor) -> torch.Tensor:
        """The hybrid's CTC head loss, reduced as `aux_ctc.ctc_reduction` (impossible alignments: 0)."""
        log_probs = model.ctc_decoder(encoded)
        losses = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1).float(), tokens, enc_len, token_len,
                                              blank=model.ctc_decoder.blank_id, reduction="none",
                                              zero_infinity=True)
        return reduce_losses(losses, token_len, self.ctc_reduction)
