"""Candidate architectures for a CPU model: size and speed on this machine (random weights).

    .venv/bin/python bench/bench_architectures.py [--configs quick quartznet_5x5 ...] [--threads 2]

For each shipped config: parameters, .nemo size, inference RTFx at batch 1 on 10 s (2 threads, the
shipped-model target is > 50x) and training audio-seconds per second at batch 8 x 5 s. Accuracy needs
training runs; this table is the speed side of that choice.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_speed import inference_rtfx, training_rate  # noqa: E402

from harken.configs import load_named_config  # noqa: E402
from harken.core.typed_module import set_type_checking  # noqa: E402
from harken.models.ctc_model import ASRModel  # noqa: E402

DEFAULT = ["quick", "quartznet_5x5", "fastconformer_ctc_small", "conformer_ctc_small", "quartznet_15x5"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--configs", nargs="*", default=DEFAULT)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--table", default=str(Path(__file__).parent / "RESULTS.md"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    set_type_checking(False)
    rows = []
    for name in args.configs:
        torch.manual_seed(0)
        model = ASRModel.from_config(load_named_config(name))
        with tempfile.TemporaryDirectory() as tmp:
            model.save(Path(tmp) / "m.nemo")
            size = (Path(tmp) / "m.nemo").stat().st_size / 2**20
        params = sum(x.numel() for x in model.parameters()) / 1e6
        rtfx = inference_rtfx(model, 1, 10.0, args.repeats)
        train = training_rate(model, 8, 5.0, args.repeats)
        rows.append(f"| {name} | {params:.2f} M | {size:.1f} MB | {rtfx:.0f} | {train:.1f} |")
        print(rows[-1], flush=True)
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    command = "python " + " ".join(["bench/bench_architectures.py", *sys.argv[1:]])
    section = (f"\n## Candidate architectures ({day}, {args.threads} threads, random weights)\n\n`{command}`\n\n"
               "| config | parameters | .nemo | RTFx b=1 x 10 s | train audio-s/s (8 x 5 s) |\n|---|---|---|---|---|\n"
               + "\n".join(rows) + "\n")
    with open(args.table, "a") as f:
        f.write(section)


if __name__ == "__main__":
    main()
