"""Eager PyTorch speed, harken and NeMo 3.0 side by side on the SAME model: inference RTFx and training throughput.

    .venv/bin/python bench/bench_speed.py [--config quartznet_5x5 | --model M.nemo] [--rounds 5] [--reps 5]
        [--threads 2] [--nemo-python $NEMO_VENV/bin/python] [--precision bf16] [--append bench/RESULTS.md]
    .venv/bin/python bench/bench_speed.py --quick --nemo-python $NEMO_VENV/bin/python   # one short round

The model: --model's .nemo, or --config's model built by harken with random weights (seed 0) and saved as a
.nemo; both toolkits load that one file (NeMo with `restore_from`), so they run the same architecture and
weights. Tasks, on random audio (speed does not depend on weights or words):
  RTFx b=1, b=8 (10 s): mel front end + encoder + CTC head + greedy decode, inference mode
  train audio-s/s (8 x --train-seconds each, default 5 s): forward with SpecAugment, CTC loss over 40-token
  targets, backward, AdamW step.
Each round runs one fresh child process per toolkit (the order rotating between rounds); a child warms each task
up once and times it --reps times. Calls during which other processes used more than --max-foreign cores are
dropped, and so are rounds with under half their calls clean (bench/bench_rounds.py says how). Printed: a
markdown table of the median over kept rounds, the range, and the rounds kept; --append adds it to a file.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rounds import append_block, median_kept, rotated, round_value, run_child, summary, wait_quiet  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# glibc's policy of harken.core.memory.reuse_freed_memory, for a process that does not call it (NeMo)
KEEP_FREED_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
INFER_TASKS = [("RTFx b=1 (10 s)", "infer", 1, 10.0), ("RTFx b=8 (10 s)", "infer", 8, 10.0)]


def train_task(seconds: float) -> tuple:
    return (f"train audio-s/s (8 x {seconds:g} s)", "train", 8, seconds)

HARKEN_CHILD = r"""
import contextlib
import torch
torch.set_num_threads(job["threads"])
torch.manual_seed(0)
import harken
from harken.core.typed_module import set_type_checking
from harken.models.base import inference_mode
from harken.training.optim import build_optimizer
set_type_checking(False)
if job["keep_freed"]:  # what every `harken` command does first (harken/core/memory.py)
    from harken.core.memory import reuse_freed_memory
    reuse_freed_memory()
model = harken.load(job["model"])
bf16 = job["precision"] == "bf16"
amp = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
SR = 16000
out = {}
for name, task, batch, seconds in job["tasks"]:
    audio = torch.randn(batch, int(seconds * SR)) * 0.1
    lengths = torch.full((batch,), audio.shape[1])
    if task == "infer":
        def call():
            with inference_mode(model), amp():
                log_probs, enc_len, _ = model(audio, lengths, pad_to=0)
                model.decode(log_probs, enc_len)
    else:
        tokens = torch.randint(1, len(model.labels), (batch, 40))
        token_len = torch.full((batch,), 40)
        opt = build_optimizer(model.parameters(), {"name": "adamw", "lr": 1e-3})
        model.train()
        def call():
            with amp():
                log_probs, enc_len, _ = model(audio, lengths)
            loss = model.ctc_loss(log_probs, enc_len, tokens, token_len)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    out[name] = timed_calls(call, job["reps"])
    model.eval()
done({"calls": out, "threads": torch.get_num_threads(), "torch": torch.__version__, "peak_mb": peak_mb()})
"""

NEMO_CHILD = r"""
import logging
import torch
torch.set_num_threads(job["threads"])
torch.manual_seed(0)
from nemo.utils import logging as nemo_logging
nemo_logging.setLevel(logging.ERROR)
from nemo.core.classes import ModelPT
model = ModelPT.restore_from(job["model"], map_location="cpu").eval()
SR = 16000
out = {}
for name, task, batch, seconds in job["tasks"]:
    audio = torch.randn(batch, int(seconds * SR)) * 0.1
    lengths = torch.full((batch,), audio.shape[1])
    if task == "infer":
        def call():
            with torch.inference_mode():
                log_probs, enc_len, _ = model.forward(input_signal=audio, input_signal_length=lengths)
                model.decoding.ctc_decoder_predictions_tensor(log_probs, decoder_lengths=enc_len)
    else:
        vocab = model.decoder.num_classes_with_blank - 1
        tokens = torch.randint(1, vocab, (batch, 40))
        token_len = torch.full((batch,), 40)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        model.train()
        def call():
            # NeMo's featurizer dithers in place in train mode: a copy keeps the input the same every call
            log_probs, enc_len, _ = model.forward(input_signal=audio.clone(), input_signal_length=lengths)
            loss = model.loss(log_probs=log_probs, targets=tokens, input_lengths=enc_len, target_lengths=token_len)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    out[name] = timed_calls(call, job["reps"])
    model.eval()
import nemo
done({"calls": out, "threads": torch.get_num_threads(), "torch": torch.__version__, "nemo": nemo.__version__,
      "peak_mb": peak_mb()})
"""


def model_file(args: argparse.Namespace, work: Path) -> Path:
    """--model as given, or --config's model with random weights (seed 0) saved as a .nemo both sides load."""
    if args.model:
        return Path(args.model)
    import torch

    from harken.configs import load_named_config
    from harken.models.ctc_model import ASRModel

    torch.manual_seed(0)
    path = work / f"{args.config}.nemo"
    ASRModel.from_config(load_named_config(args.config)).save(path)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="quartznet_5x5", help="a harken config name (random weights)")
    p.add_argument("--model", help="a .nemo instead of --config (both toolkits load this file)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--reps", type=int, default=5, help="timed calls per task in each child")
    p.add_argument("--precision", choices=["32", "bf16"], default="32",
                   help="bf16: harken under torch.autocast (NeMo then is not run)")
    p.add_argument("--nemo-python", help="python of a NeMo 3.0 venv: measure NeMo on the same .nemo")
    p.add_argument("--max-foreign", type=float, default=0.15,
                   help="drop calls during which other processes used more cores than this")
    p.add_argument("--quiet-threshold", type=float, default=0.3,
                   help="before each child, wait until all processes use fewer cores than this ...")
    p.add_argument("--quiet-wait", type=float, default=120.0, help="... for at most this many seconds")
    p.add_argument("--train-seconds", type=float, nargs="+", default=[5.0],
                   help="utterance lengths of the training task (batch 8 each)")
    p.add_argument("--train-only", action="store_true", help="skip the inference tasks")
    p.add_argument("--harken-default-malloc", action="store_true",
                   help="harken without reuse_freed_memory() (glibc's own policy, as before it existed)")
    p.add_argument("--nemo-keep-freed", action="store_true",
                   help="also run NeMo under the same glibc policy (environment variables): side 'NeMo+keep'")
    p.add_argument("--quick", action="store_true", help="one round of 2 calls: checks the script runs")
    p.add_argument("--append", metavar="FILE", help="also add the table to FILE (e.g. bench/RESULTS.md)")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.reps, args.quiet_wait = 1, 2, 0.0
    tasks = ([] if args.train_only else INFER_TASKS) + [train_task(s) for s in args.train_seconds]
    sides = {"harken": (sys.executable, HARKEN_CHILD)}
    if args.nemo_python and args.precision == "32":
        sides["NeMo"] = (args.nemo_python, NEMO_CHILD)
        if args.nemo_keep_freed:
            sides["NeMo+keep"] = (args.nemo_python, NEMO_CHILD)
    with tempfile.TemporaryDirectory(prefix="bench_speed_") as tmp:
        model = model_file(args, Path(tmp))
        job = {"model": str(model), "tasks": tasks, "reps": args.reps, "precision": args.precision,
               "keep_freed": not args.harken_default_malloc}
        values: dict[str, dict[str, list]] = {s: {t[0]: [] for t in tasks} for s in sides}
        info = {}
        for rnd in range(args.rounds):
            for side in rotated(list(sides), rnd):
                waited = wait_quiet(args.quiet_threshold, args.quiet_wait)
                python, code = sides[side]
                r = run_child(python, code, job, args.threads, cwd=tmp if side.startswith("NeMo") else str(ROOT),
                              env_extra=KEEP_FREED_ENV if side == "NeMo+keep" else None)
                info[side] = r
                cells = []
                for name, _, batch, seconds in tasks:
                    calls = r["calls"][name]
                    values[side][name].append(round_value(calls, batch * seconds, args.max_foreign))
                    cells.append(f"{name.split(' (')[0]} {batch * seconds / min(c[0] for c in calls):.1f} best, "
                                 f"foreign cores <= {max(c[1] for c in calls):.2f}")
                print(f"round {rnd + 1} {side} (waited {waited:.0f} s): " + "; ".join(cells), flush=True)
    what = args.model or f"{args.config} (random weights)"
    print()
    table = render(values, info, what, args, tasks)
    print(table)
    if args.append:
        append_block(args.append, table)


def render(values: dict, info: dict, what: str, args: argparse.Namespace, tasks: list) -> str:
    sides = list(values)
    bf16 = ", bf16 autocast" if args.precision == "bf16" else ""
    versions = ", ".join(f"{s}: torch {info[s]['torch']}" + (f", NeMo {info[s]['nemo']}" if "nemo" in info[s]
                                                             else "") for s in sides)
    lines = [f"**{what}{bf16}**, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {args.threads} threads, "
             f"{platform.machine()}, {versions}; `python bench/bench_speed.py {' '.join(sys.argv[1:])}`", "",
             "| task | " + " | ".join(sides) + "".join(f" | harken / {s}" for s in sides[1:]) + " |",
             "|---" * (2 * len(sides)) + "|"]
    for name, *_ in tasks:
        row = [summary(values[s][name]) for s in sides]
        for other in sides[1:]:
            a, b = median_kept(values["harken"][name]), median_kept(values[other][name])
            row.append(f"{a / b:.2f}x" if a and b else "-")
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    lines.append("")
    lines.append(f"Median over kept rounds (range, rounds kept); a round is a fresh process per toolkit doing "
                 f"{args.reps} timed calls per task; calls with other processes above {args.max_foreign} cores "
                 "were dropped.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
