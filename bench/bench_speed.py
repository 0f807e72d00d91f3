"""QuartzNet 5x5 speed on this machine: inference RTFx and training throughput (random weights).

    .venv/bin/python bench/bench_speed.py [--threads 2] [--repeats 5] [--table bench/RESULTS.md]
        [--nemo-python ~/.venvs/nemo/bin/python]   # also run NeMo's own tasks, alternating, in one run
        [--precision bf16]   # every task under bf16 autocast, as `trainer.precision=bf16-mixed` trains

RTFx = seconds of audio per wall-clock second; inference at batch 1 and 8 on 10 s utterances
(mel front end + encoder + decoder + greedy decode), training at batch 8 x 5 s (forward with
SpecAugment, CTC loss over 40-character targets, backward, AdamW step: the same task as the steering
side's `bench_nemo.py`, which this script runs for NeMo). Appends rows with the exact command.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from harken.configs import load_named_config
from harken.core.typed_module import set_type_checking
from harken.models.base import inference_mode
from harken.models.ctc_model import ASRModel
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


def inference_rtfx(model: ASRModel, batch: int, seconds: float, repeats: int, precision=contextlib.nullcontext):
    audio = torch.randn(batch, int(seconds * SR)) * 0.1
    lengths = torch.full((batch,), audio.shape[1])

    def run():
        with inference_mode(model), precision():
            log_probs, enc_len, _ = model(audio, lengths, pad_to=0)
            model.decode(log_probs, enc_len)

    return batch * seconds / timed(run, repeats)


def training_rate(model: ASRModel, batch: int, seconds: float, repeats: int, precision=contextlib.nullcontext):
    audio = torch.randn(batch, int(seconds * SR)) * 0.1
    lengths = torch.full((batch,), audio.shape[1])
    tokens = torch.randint(1, len(model.labels), (batch, 40))
    token_len = torch.full((batch,), 40)
    opt = build_optimizer(model.parameters(), {"name": "adamw", "lr": 1e-3})
    model.train()

    def step():
        with precision():
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
    p.add_argument("--model", help="a trained .nemo instead of a config with random weights")
    p.add_argument("--table", default=str(Path(__file__).parent / "RESULTS.md"))
    p.add_argument("--precision", choices=["32", "bf16"], default="32", help="bf16: under torch.autocast")
    p.add_argument("--nemo-python", help="python of a NeMo 3.0 venv: measure NeMo's same tasks in this run")
    p.add_argument("--nemo-bench", default=str(Path(__file__).resolve().parents[2] / "shared/anchors/bench_nemo.py"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    set_type_checking(False)  # the default at run time
    model = ASRModel.load(args.model) if args.model else ASRModel.from_config(load_named_config(args.config))
    bf16 = args.precision == "bf16"
    what = (Path(args.model).name if args.model else args.config) + (", bf16 autocast" if bf16 else "")

    def amp():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)

    tasks = [("RTFx b=1 (10 s)", lambda: inference_rtfx(model, 1, 10.0, args.repeats, amp), ["infer", "1", "10"]),
             ("RTFx b=8 (10 s)", lambda: inference_rtfx(model, 8, 10.0, args.repeats, amp), ["infer", "8", "10"]),
             ("train audio-s/s (8 x 5 s)", lambda: training_rate(model, 8, 5.0, args.repeats, amp),
              ["train", "8", "5"])]
    ours, theirs = {}, {}
    for name, run, (task, batch, seconds) in tasks:  # alternate harken and NeMo task by task
        ours[name] = run()
        if args.nemo_python and not bf16:  # NeMo's bench script runs float32 only
            theirs[name] = nemo_task(args, task, batch, seconds)
        print(f"{name:28s} harken {ours[name]:8.1f}" + (f"   NeMo {theirs[name]:8.1f}" if theirs else ""))
    command = "python " + " ".join(["bench/bench_speed.py", *sys.argv[1:]])
    setup = f"torch {torch.__version__}, {args.threads} threads, {platform.machine()}"
    day = f"{datetime.now(timezone.utc):%Y-%m-%d}"
    lines = [f"| {day} | harken {what} | {setup} | " + " | ".join(f"{v:.1f}" for v in ours.values())
             + f" | `{command}` |\n"]
    if theirs:
        lines.append(f"| {day} | NeMo 3.0.0 qn5x5, same run | {setup} | "
                     + " | ".join(f"{v:.1f}" for v in theirs.values()) + f" | `{command}` |\n")
    table = Path(args.table)
    rows = (table.read_text() if table.exists() else HEADER).splitlines(keepends=True)
    end = next(i for i, row in enumerate(rows) if row.startswith("| date | what |"))
    while end + 1 < len(rows) and rows[end + 1].startswith("|"):
        end += 1
    rows[end + 1:end + 1] = lines  # at the end of the speed table, before any later section
    table.write_text("".join(rows))
    print(f"added to {table}")


def nemo_task(args: argparse.Namespace, task: str, batch: str, seconds: str) -> float:
    """One task of the steering side's bench_nemo.py in the NeMo venv; its median audio-seconds per second."""
    cmd = [args.nemo_python, args.nemo_bench, "--task", task, "--model", "qn5x5", "--batch", batch,
           "--seconds", seconds, "--threads", str(args.threads), "--reps", str(args.repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.split("@@RESULT@@")[-1].strip().splitlines()[0])
    return float(result.get("rtfx_median") or result["audio_s_per_s"])


HEADER = """# Speed benchmarks

Run by hand (`make bench`); never part of the tests. QuartzNet 5x5 with random weights, CPU.

| date | what | setup | RTFx b=1 (10 s) | RTFx b=8 (10 s) | train audio-s/s (8 x 5 s) | command |
|---|---|---|---|---|---|---|
| 2026-11-24 | NeMo 3.0 (reference) | 2 threads, same machine | 35 | 35 | 16 | figures given in issue #2 |
"""


if __name__ == "__main__":
    main()
