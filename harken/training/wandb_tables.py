"""The two W&B tables of NeMo's W&B tutorial, with audio players: the data (audio, text, duration of a sample
of the training and validation manifests, logged at the start) and the predictions of the final model on a
sample of the validation manifest (audio, reference, hypothesis, WER, logged at the end).

    exp_manager:
      wandb_table_rows: 16     # rows per table and split; 0: no tables (default 16 when W&B logging is on)

Tarred datasets have no manifest rows to sample and are left out.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from harken.audio.io import load_audio
from harken.core.config import ConfigError
from harken.data.manifest import ManifestEntry, write_manifest
from harken.training.data import manifest_entries

log = logging.getLogger("harken.train")
DEFAULT_ROWS = 16
SPLITS = (("train", "train_ds"), ("validation", "validation_ds"))


def table_rows(cfg: dict) -> int:
    rows = (cfg.get("exp_manager") or {}).get("wandb_table_rows", DEFAULT_ROWS)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise ConfigError(f"exp_manager.wandb_table_rows must be a whole number >= 0, got {rows!r}")
    return rows


def log_data_table(run, cfg: dict) -> None:
    """Table `data`: split, audio, text, duration for up to `wandb_table_rows` rows of each split."""
    import wandb

    rows, sample_rate = table_rows(cfg), _sample_rate(cfg)
    table = wandb.Table(columns=["split", "audio", "text", "duration"])
    for split, key in SPLITS:
        for e in _sample(cfg, key, rows):
            table.add_data(split, _audio(e, sample_rate), e.text, e.duration)
    if rows and table.data:
        run.log({"data": table})


def log_prediction_table(run, cfg: dict, model_path: Path) -> None:
    """Table `predictions`: audio, reference, hypothesis, WER of the final model on validation rows."""
    import wandb

    from harken.metrics.evaluate import evaluate
    from harken.models.loading import load_model

    entries = _sample(cfg, "validation_ds", table_rows(cfg)) or _sample(cfg, "train_ds", table_rows(cfg))
    if not entries:
        return
    model = load_model(str(model_path))
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_manifest(Path(tmp) / "sample.json", entries)
        result = evaluate(model, manifest)
    table = wandb.Table(columns=["audio", "reference", "hypothesis", "wer"])
    for e, row in zip(entries, result.predictions):
        table.add_data(_audio(e, model.sample_rate), row["text"], row["pred_text"], row["wer"])
    run.log({"predictions": table})


def _sample(cfg: dict, key: str, rows: int) -> list[ManifestEntry]:
    """A fixed sample (seed 0) of a dataset's rows; none for a tarred or absent dataset."""
    ds = (cfg.get("model") or {}).get(key) or {}
    if not rows or not ds.get("manifest_filepath") or ds.get("is_tarred"):
        return []
    _, entries = manifest_entries(ds)
    picked = np.random.default_rng(0).choice(len(entries), size=min(rows, len(entries)), replace=False)
    return [entries[i] for i in sorted(picked.tolist())]


def _audio(e: ManifestEntry, sample_rate: int):
    import wandb

    audio = load_audio(e.audio_filepath, sample_rate, offset=e.offset, duration=e.duration if e.offset else None)
    return wandb.Audio(audio, sample_rate=sample_rate, caption=Path(e.audio_filepath).name)


def _sample_rate(cfg: dict) -> int:
    model = cfg.get("model") or {}
    return int(model.get("sample_rate") or (model.get("preprocessor") or {}).get("sample_rate") or 16000)
