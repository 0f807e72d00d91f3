"""Training classifiers: MatchboxNet speech commands and MarbleNet VADs, one label per clip or per frame.

Manifests are NeMo's: `label` holds the clip's class (`"yes"`, `"speech"`), or for a frame VAD one label per
frame separated by spaces (`"0 0 1 1 ..."`). Frame labels come at the model's frame rate (20 ms for MarbleNet)
or a whole multiple of it (40 ms labels are repeated twice), as NeMo's frame VAD reads them; a label string
one frame short of the model's output is extended with its last label. Training minimises cross-entropy
(over the valid frames for a frame VAD); validation reports accuracy and F1 (of the speech class for a VAD,
macro over classes otherwise) and `val_error`, the checkpoint monitor: 1 - F1 for VADs, 1 - accuracy for
the rest. Everything else (sampler, resume, optimizer, `.nemo`) is `CTCTask`'s.

Waveform augmentation is `train_ds.augmentor` (harken/augment/perturb.py: shift, white_noise, gain, ...),
spectrogram augmentation the model's `spec_augment`. Frame VADs refuse `shift` and `speed`: they would move
the audio under its frame labels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from harken.augment.perturb import Augmentor
from harken.data.dataset import AudioTextDataset
from harken.data.manifest import ManifestEntry, ManifestError
from harken.inference.speech_detection import SPEECH_LABELS
from harken.models.classifier import FrameClassifier, SpeechClassifier
from harken.training.ctc_task import CTCTask
from harken.training.data import manifest_entries

TIME_MOVING = ("shift", "speed")  # perturbations a frame-labelled clip cannot take


def classifier_family(model_cfg: dict) -> type[SpeechClassifier] | None:
    """The classifier a NeMo training config builds (its configs name no class): a per-frame MLP head is a
    frame VAD, a pooled classification head an utterance classifier; None for anything else."""
    head = str((model_cfg.get("decoder") or {}).get("_target_", ""))
    if head.endswith("MultiLayerPerceptron"):
        return FrameClassifier
    if head.endswith("ConvASRDecoderClassification"):
        return SpeechClassifier
    return None


class LabelDataset(AudioTextDataset):
    """Utterances -> (waveform, label ids): one id per clip, or one per frame for a frame classifier."""

    def __init__(self, entries: list[ManifestEntry], labels: list[str], sample_rate: int, frames: bool,
                 augmentor: Augmentor | None = None):
        self.entries, self.sample_rate, self.augmentor = list(entries), sample_rate, augmentor
        index = {name: i for i, name in enumerate(labels)}
        self.tokens = [label_ids(e, index, frames) for e in self.entries]


def label_ids(entry: ManifestEntry, index: dict[str, int], frames: bool) -> torch.Tensor:
    """A row's `label` as class ids; a missing or unknown label is an error naming the manifest line."""
    where = entry.where or entry.audio_filepath
    value = entry.extra.get("label")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{where}: a classifier's manifest needs a 'label' (got {value!r})")
    names = value.split() if frames else [value.strip()]
    unknown = sorted({n for n in names if n not in index})
    if unknown:
        raise ManifestError(f"{where}: label {unknown[0]!r} is not one of the model's labels {list(index)[:12]}")
    return torch.tensor([index[n] for n in names], dtype=torch.long)


def frame_targets(labels: torch.Tensor, label_len: torch.Tensor, frames: int, enc_len: torch.Tensor) -> torch.Tensor:
    """[B, L] label ids -> [B, frames] ids at the model's rate (-100 past a row's valid frames): each label
    covers round(enc_len / label_len) frames, the last one any frames left over."""
    out = torch.full((labels.shape[0], frames), -100, dtype=torch.long, device=labels.device)
    for b in range(labels.shape[0]):
        n, valid = max(int(label_len[b]), 1), min(int(enc_len[b]), frames)
        ratio = max(1, round(valid / n))
        idx = torch.clamp(torch.arange(valid, device=labels.device) // ratio, max=n - 1)
        out[b, :valid] = labels[b, idx]
    return out


class ClassifierObjective:
    """Cross-entropy of clip logits [B, C] or frame logits [B, T, C] against the batch's labels."""

    def logits_targets(self, model: SpeechClassifier, batch: tuple) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and targets as [N, C] and [N] (N clips or frames; ignored frames have target -100)."""
        audio, audio_len, labels, label_len = batch
        encoded, enc_len = model.encode(audio, audio_len)  # SpecAugment while training
        if isinstance(model, FrameClassifier):
            logits = model.decoder(encoded.transpose(1, 2))
            targets = frame_targets(labels, label_len, logits.shape[1], enc_len)
            return logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1)
        return model.decoder(encoded).float(), labels[:, 0]

    def loss(self, model: SpeechClassifier, batch: tuple) -> dict[str, torch.Tensor]:
        logits, targets = self.logits_targets(model, batch)
        return {"loss": F.cross_entropy(logits, targets, ignore_index=-100)}


class ClassifierTask(CTCTask):
    """CTCTask's loop, data and checkpoints with label data and classification metrics."""

    monitor = "val_error"  # lower is better, as CheckpointPolicy expects

    def __init__(self, model: SpeechClassifier):
        super().__init__(model, ClassifierObjective())
        self.frames = isinstance(model, FrameClassifier)
        self.speech = next((model.labels.index(n) for n in SPEECH_LABELS if n in model.labels), None)
        self._confusion = torch.zeros(len(model.labels), len(model.labels), dtype=torch.long)

    def _dataset(self, ds_cfg: dict, train: bool) -> LabelDataset:
        paths, entries = manifest_entries(ds_cfg)
        augment = dict(ds_cfg.get("augmentor") or {}) if train else {}
        moving = [k for k in augment if k in TIME_MOVING]
        if self.frames and moving:
            raise ValueError(f"train_ds.augmentor.{moving[0]}: a frame VAD's labels are tied to time; "
                             "remove time-moving perturbations (shift, speed)")
        aug = Augmentor(augment, seed=int(ds_cfg.get("seed", 0))) if augment else None
        return LabelDataset(entries, self.model.labels, self.model.sample_rate, self.frames, aug)

    def train_dataloader(self) -> DataLoader:
        if self.cfg["train_ds"].get("shards"):
            raise ValueError("train_ds.shards: classifiers train from manifests (manifest_filepath)")
        return super().train_dataloader()  # CTCTask's loaders over this task's _dataset

    def on_validation_epoch_start(self) -> None:
        self._confusion = torch.zeros_like(self._confusion, device=self.device)

    def validation_step(self, batch: tuple, batch_idx: int) -> None:
        logits, targets = self.objective.logits_targets(self.model, batch)
        self.log("val_loss", F.cross_entropy(logits, targets, ignore_index=-100), sync_dist=True,
                 batch_size=batch[0].shape[0])
        keep = targets >= 0
        pairs = targets[keep] * len(self.model.labels) + logits[keep].argmax(-1)
        c = len(self.model.labels)
        self._confusion += torch.bincount(pairs, minlength=c * c).reshape(c, c)

    def on_validation_epoch_end(self) -> None:
        confusion = self._confusion
        if self.trainer.world_size > 1:
            confusion = self.all_gather(confusion).sum(dim=0)
        scores = metrics(confusion.double(), self.speech)
        for name, value in scores.items():
            self.log(f"val_{name}", value, prog_bar=name != "error", rank_zero_only=False)


def metrics(confusion: torch.Tensor, speech: int | None) -> dict[str, float]:
    """Accuracy, F1 and the monitored error from a [true, predicted] count matrix: F1 of the speech class when
    there is one (error = 1 - F1), else macro F1 (error = 1 - accuracy)."""
    total = float(confusion.sum())
    acc = float(confusion.trace()) / max(total, 1.0)
    tp = confusion.diag()
    f1 = 2 * tp / (confusion.sum(0) + confusion.sum(1)).clamp(min=1)
    if speech is not None:
        return {"acc": acc, "f1": float(f1[speech]), "error": 1.0 - float(f1[speech])}
    return {"acc": acc, "f1": float(f1.mean()), "error": 1.0 - acc}
