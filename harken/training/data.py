"""Dataloaders from NeMo-style `train_ds` / `validation_ds` config sections.

    train_ds: {manifest_filepath: train.json, batch_size: 16, max_batch_duration: null,
               shuffle: true, num_workers: 2, min_duration: 0.1, max_duration: 20.0,
               max_oov_fraction: 0.01, num_buckets: 10, seed: 0,
               augmentor: {speed: {prob: 0.3}, white_noise: {prob: 0.3, min_snr_db: 10}}}  # see augment/perturb.py
"""

from __future__ import annotations

from torch.utils.data import DataLoader

from harken.augment.perturb import Augmentor
from harken.data.dataset import AudioTextDataset, collate_audio_text
from harken.data.manifest import ManifestEntry, read_manifest
from harken.data.sampler import DurationBatchSampler
from harken.data.shards import ShardStream
from harken.text.char_tokenizer import CharTokenizer


def manifest_entries(ds_cfg: dict) -> tuple[list[str], list[ManifestEntry]]:
    """The manifests a dataset config names (one path, a comma-separated list or a list) and their utterances
    within the config's duration limits, in order: exactly what training batches are drawn from."""
    paths = ds_cfg.get("manifest_filepath")
    if not paths:
        raise ValueError("dataset config: manifest_filepath is required")
    if isinstance(paths, str):
        paths = [p.strip() for p in paths.split(",")]
    entries = [e for path in paths for e in read_manifest(path, min_duration=ds_cfg.get("min_duration"),
                                                            max_duration=ds_cfg.get("max_duration"))]
    if not entries:
        raise ValueError(f"{', '.join(paths)}: no utterances left after the duration filters")
    return list(paths), entries


def build_dataset(ds_cfg: dict, tokenizer: CharTokenizer, sample_rate: int) -> AudioTextDataset:
    paths, entries = manifest_entries(ds_cfg)
    augment = ds_cfg.get("augmentor")
    return AudioTextDataset(entries, tokenizer, sample_rate,
                            max_oov_fraction=float(ds_cfg.get("max_oov_fraction", 0.01)),
                            augmentor=Augmentor(augment, seed=int(ds_cfg.get("seed", 0))) if augment else None,
                            manifest_path=", ".join(paths))


def build_loader(ds_cfg: dict, dataset: AudioTextDataset, train: bool, rank: int = 0,
                 world_size: int = 1) -> DataLoader:
    sampler = DurationBatchSampler(
        dataset.durations,
        max_batch_duration=ds_cfg.get("max_batch_duration"),
        batch_size=ds_cfg.get("batch_size", 16),
        shuffle=bool(ds_cfg.get("shuffle", train)) and train,
        seed=int(ds_cfg.get("seed", 0)),
        num_buckets=int(ds_cfg.get("num_buckets", 10)),
        drop_last=bool(ds_cfg.get("drop_last", False)),
        rank=rank,
        world_size=world_size,
    )
    workers = int(ds_cfg.get("num_workers", 0))
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_audio_text, num_workers=workers,
                      pin_memory=bool(ds_cfg.get("pin_memory", False)), persistent_workers=workers > 0)


def build_shard_loader(ds_cfg: dict, tokenizer, sample_rate: int, rank: int = 0, world_size: int = 1) -> DataLoader:
    """Streaming loader over tar shards (`shards:` a folder with index.json, a list or comma-separated URLs)."""
    stream = ShardStream(ds_cfg["shards"], tokenizer, sample_rate, shuffle_buffer=int(ds_cfg.get("shuffle_buffer", 0)),
                         seed=int(ds_cfg.get("seed", 0)), rank=rank, world_size=world_size)
    workers = int(ds_cfg.get("num_workers", 0))
    return DataLoader(stream, batch_size=int(ds_cfg.get("batch_size", 16)), collate_fn=collate_audio_text,
                      num_workers=workers, persistent_workers=False)
