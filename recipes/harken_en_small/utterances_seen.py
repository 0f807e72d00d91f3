"""How much audio a run has trained on: replays the (deterministic) batch sampler for the steps taken.

    python recipes/harken_en_small/utterances_seen.py exp/harken_en_small
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from harken.core.config import load_config
from harken.data.sampler import DurationBatchSampler
from harken.training.data import manifest_entries


def main(run_dir: str) -> None:
    run = Path(run_dir)
    cfg = load_config(run / "config.yaml")["model"]["train_ds"]
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    steps = int(ckpt["global_step"])
    durations = [e.duration for e in manifest_entries(cfg)[1]]
    sampler = DurationBatchSampler(durations, max_batch_duration=cfg.get("max_batch_duration"),
                                   batch_size=cfg.get("batch_size", 16), shuffle=bool(cfg.get("shuffle", True)),
                                   seed=int(cfg.get("seed", 0)), num_buckets=int(cfg.get("num_buckets", 10)),
                                   drop_last=bool(cfg.get("drop_last", False)))
    seen = seconds = 0.0
    epoch, left = 0, steps
    while left > 0:
        sampler.set_epoch(epoch)
        for batch in sampler:
            if left == 0:
                break
            seen += len(batch)
            seconds += sum(durations[i] for i in batch)
            left -= 1
        epoch += 1
    print(f"{run}: {steps} steps, {int(seen)} utterances ({seen / len(durations):.2f} epochs of {len(durations)}), "
          f"{seconds / 3600:.1f} h of audio seen")


if __name__ == "__main__":
    main(sys.argv[1])
