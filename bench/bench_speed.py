"""QuartzNet 5x5 speed on this machine: inference RTFx and training throughput (random weights).

    .venv/bin/python bench/bench_speed.py [--threads 2] [--repeats 5] [--table bench/RESULTS.md]

RTFx = seconds of audio per wall-clock second; inference at batch 1 and 8 on 10 s utterances
(mel front end + encoder + decoder + greedy decode), training at batch 8 x 5 s (forward, CTC loss,
backward, novograd step). Appends a row to the results table with the exact command.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from harken.configs import load_named_config
from harken.core.typed_module import set_type_checking
from harken.models.ctc_model import ASRModel, inference_mode
from harken.training.optim import build_optimizer

SR = 16000


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def inference_rtfx(model: ASRModel, batch: int, seconds: float, repeats: int) -> float:
    audio = torch.randn(batch, int(seconds * SR)) * 0.1
    lengths = torch.full((batch,), audio.shape[1])

    def run():
        with inference_mode(model):
            log_probs, enc_len, _ = model(audio, lengths, pad_to=0)
            model.decode(log_probs, enc_len)

    return batch * seconds / timed(run, repeats)


def training_rate(model: ASRModel, batch: int, seconds: float, repeats: int) -> float:
    audio = torch.randn(batch, int(seconds * SR)) * 0.1
    lengths = torch.full((batch,), audio.shape[1])
    tokens = torch.randint(0, len(model.labels), (batch, 60))
    token_len = torch.full((batch,), 60)
    opt = build_optimizer(model.parameters(), {"name": "novograd", "lr": 0.01, "betas": [0.8, 0.5]})
    model.train()

    def step():
        log_probs, enc_len, _ = model(audio, lengths)
        loss = model.ctc_loss(log_probs, enc_len, tokens, token_len)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return batch * seconds / timed(step, repeats)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--config", default="quartznet_5x5")
    p.add_argument("--table", default=str(Path(__file__).parent / "RESULTS.md"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    set_type_checking(False)  # the default at run time
    model = ASRModel.from_config(load_named_config(args.config))
    rows = {
        "RTFx b=1 (10 s)": inference_rtfx(model, 1, 10.0, args.repeats),
        "RTFx b=8 (10 s)": inference_rtfx(model, 8, 10.0, args.repeats),
        "train audio-s/s (8 x 5 s)": training_rate(model, 8, 5.0, args.repeats),
    }
    for name, value in rows.items():
        print(f"{name:28s} {value:8.1f}")
    command = "python " + " ".join(["bench/bench_speed.py", *sys.argv[1:]])
    line = (f"| {datetime.now(timezone.utc):%Y-%m-%d} | harken {args.config} | torch {torch.__version__}, "
            f"{args.threads} threads, {platform.machine()} | " + " | ".join(f"{v:.1f}" for v in rows.values())
            + f" | `{command}` |\n")
    table = Path(args.table)
    if not table.exists():
        table.write_text(HEADER)
    with table.open("a") as f:
        f.write(line)
    print(f"appended to {table}")


HEADER = """# Speed benchmarks

Run by hand (`make bench`); never part of the tests. QuartzNet 5x5 with random weights, CPU.

| date | what | setup | RTFx b=1 (10 s) | RTFx b=8 (10 s) | train audio-s/s (8 x 5 s) | command |
|---|---|---|---|---|---|---|
| 2026-11-24 | NeMo 3.0 (reference) | 2 threads, same machine | 35 | 35 | 16 | figures given in issue #2 |
"""


if __name__ == "__main__":
    main()
