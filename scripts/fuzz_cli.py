"""Throw a few hundred generated bad inputs at the harken CLI and count what must never happen.

    .venv/bin/python scripts/fuzz_cli.py [--cases 300] [--seed 0] [--jobs 2] [--timeout 60] [--memory-mb 2048]
                                         [--commands 0.5]

Each case is one `harken` subprocess on inputs made for it (fuzz_inputs.py makes the bad files): transcribe,
eval, align, data check and data prepare get WAV headers with random rates, channels, sizes and formats,
flipped or cut bytes, NaN samples, FIFOs and folders named .wav; manifests with random field values, broken
UTF-8, deep nesting and long lines; .nemo files with random config values, YAML alias bombs, gzip bombs, cut
archives and tokenizer paths outside the archive; outputs aimed at the inputs; absurd option values. A
`--commands` share of the cases goes to train, vad, classify, lm build, tokenizer train and data
shard/report/perturb (fuzz_commands.py: odd config values, broken YAML, run folders and damaged or foreign
checkpoints, bad rows, text that is not UTF-8, outputs onto inputs). Every subprocess runs under
`resource.setrlimit` (address space capped at --memory-mb) and a wall-clock timeout. Counted, and all
expected to be zero:

  traceback   a Python traceback on stderr
  hang        still running at --timeout
  memory      peak RSS over the cap, a MemoryError, or the "out of memory" message
  crashed     killed by a signal
  changed     an input file (or the shared model and audio) whose bytes changed, or that vanished (files a
              command was told to replace, --overwrite or a good --resume, excepted)

The subprocesses get HARKEN_MAX_PARAMS=1e8, the model-size limit sized to the cap (README 'Limits and
guarantees': the defaults suit a machine with 8+ GB free; lower them to fit a smaller one).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fuzz_commands import make_command_case, prepare_base
from fuzz_inputs import ROOT, SPEECH, TINY, Case, bad_audio, bad_manifest, bad_model


def make_case(rng: random.Random, folder: Path, base: Path, commands: float) -> Case:
    """A case for transcribe/eval/align/data check/data prepare, or (a `commands` share) for the other
    commands (fuzz_commands.py)."""
    if rng.random() < commands:
        return make_command_case(rng, folder, base)
    good, model = str(base / "good.wav"), str(base / "tiny.nemo")
    kind = rng.choice(["audio", "audio", "manifest", "manifest", "model", "model", "output", "options", "data"])
    if kind == "audio":
        files = [str(bad_audio(rng, folder, f"a{i}.wav")) for i in range(rng.randint(1, 3))]
        return Case(kind, ["transcribe", *rng.sample(files + [good], k=len(files) + 1), "--model", model], folder)
    if kind == "manifest":
        audio = [good, str(bad_audio(rng, folder)), "missing.wav"]
        m = str(bad_manifest(rng, folder, audio))
        argv = rng.choice([["transcribe", "--manifest", m], ["eval", "--manifest", m], ["data", "check", m],
                           ["align", "--manifest", m, "--output-dir", str(folder / "out")]])
        env = {"HARKEN_MAX_LINE_BYTES": "2000"} if rng.random() < 0.3 else {}
        return Case(kind, [*argv, *(["--model", model] if argv[0] != "data" else [])], folder, env)
    if kind == "model":
        return Case(kind, ["transcribe", good, "--model", str(bad_model(rng, folder))], folder)
    if kind == "output":  # its own copies: an --overwrite of a file that is no input of the command may replace it
        good, model = str(shutil.copy(good, folder / "good.wav")), str(shutil.copy(model, folder / "tiny.nemo"))
        m = folder / "m.json"
        m.write_text(json.dumps({"audio_filepath": good, "duration": 1.6, "text": "the cat"}) + "\n")
        (folder / "mine.txt").write_text("keep me\n")
        target = rng.choice([str(m), good, str(folder / "mine.txt"), str(folder), model])
        over = ["--overwrite"] if rng.random() < 0.5 else []
        argv, inputs = rng.choice([
            (["transcribe", "--manifest", str(m), "--model", model, "--output", target, *over], (str(m), good, model)),
            (["transcribe", good, "--model", model, "--output", target, *over], (good, model)),
            (["eval", "--manifest", str(m), "--model", model, "--output", target, *over], (str(m), good, model)),
            (["data", "check", str(m), "--fix", target, *over], (str(m), good))])
        return Case(kind, argv, folder, may_change=[target] if over and target not in inputs else [])
    if kind == "options":
        option = rng.choice(["--batch-size", "--device", "--chunk-seconds", "--beam-size", "--on-error"])
        value = rng.choice(["0", "-1", "nan", "inf", "-inf", "1e999", "x", "", "cuda:7", "tpu", "meta", "3"])
        return Case(kind, ["transcribe", good, "--model", model, option, value], folder)
    src = folder / "corpus"
    src.mkdir()
    bad_audio(rng, src, "a.wav")
    (src / "a.txt").write_bytes(rng.choice([b"hello", b"caf\xe9", b"", b"\x00" * 10]))
    dst = folder / "out"
    if rng.random() < 0.5:
        dst.mkdir()
        (dst / "all_manifest.json").write_text('{"audio_filepath": "mine.wav", "duration": 1, "text": "mine"}\n')
    source = rng.choice([str(src), "ftp://example.org/x.tgz", str(folder / "nothing"), str(base / "good.wav")])
    return Case(kind, ["data", "prepare", "folder", source, str(dst)], folder)


# ------------------------------------------------------------------ running and judging
def snapshot(*folders: Path) -> dict[str, str]:
    out = {}
    for folder in folders:
        for p in folder.rglob("*"):
            if p.is_file() and not p.is_symlink():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def child_env(extra: dict | None = None) -> dict:
    return {**os.environ, "HARKEN_MAX_PARAMS": "1e8", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **(extra or {})}


def run_case(case: Case, base: Path, timeout: float, memory: int) -> dict:
    before = snapshot(case.folder, base)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        os.setsid()

    env = child_env(case.env)
    with open(case.folder / ".stdout", "wb") as out, open(case.folder / ".stderr", "wb") as err:
        start = time.time()
        proc = subprocess.Popen([sys.executable, "-m", "harken", *case.argv], cwd=case.folder, stdout=out,
                                stderr=err, stdin=subprocess.DEVNULL, env=env, preexec_fn=limit)
        hang, status, usage = False, 0, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.time() - start > timeout:
                hang = True
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = (case.folder / ".stderr").read_text(errors="replace")
    after = snapshot(case.folder, base)
    changed = [p for p, h in before.items()
               if after.get(p) != h and not p.endswith((".stdout", ".stderr")) and p not in case.may_change]
    peak = usage.ru_maxrss * 1024
    return {"kind": case.kind, "argv": case.argv, "status": proc.returncode, "seconds": time.time() - start,
            "traceback": "Traceback (most recent call last)" in stderr, "hang": hang,
            "memory": peak > memory or "MemoryError" in stderr or "out of memory" in stderr,
            "crashed": proc.returncode < 0 and not hang, "changed": changed, "peak_mb": peak / 2**20,
            "stderr": stderr[-600:]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--memory-mb", type=int, default=2048)
    p.add_argument("--commands", type=float, default=0.5,
                   help="share of cases for train, vad, classify, lm, tokenizer and data shard/report/perturb")
    p.add_argument("--keep", help="keep the generated inputs and results.json in this folder (default: a temporary "
                                  "one, removed)")
    args = p.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="harken-fuzz-"))
    base = work / "base"
    base.mkdir(parents=True, exist_ok=True)
    shutil.copy(SPEECH, base / "good.wav")
    shutil.copy(TINY, base / "tiny.nemo")
    if args.commands > 0:
        prepared = time.time()
        prepare_base(base, child_env())
        print(f"shared inputs (two one-step training runs for real checkpoints) in {time.time() - prepared:.0f} s")
    rng = random.Random(args.seed)
    cases = []
    for i in range(args.cases):
        folder = work / f"case{i:04d}"
        folder.mkdir()
        cases.append(make_case(rng, folder, base, args.commands))
    start = time.time()
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda c: run_case(c, base, args.timeout, args.memory_mb << 20), cases))
    bad = {k: [r for r in results if r[k]] for k in ("traceback", "hang", "memory", "crashed", "changed")}
    print(f"{len(results)} cases in {time.time() - start:.0f} s (seed {args.seed}, {args.jobs} at a time, timeout "
          f"{args.timeout:g} s, address space capped at {args.memory_mb} MB)")
    print("by kind:   " + ", ".join(f"{k} {n}" for k, n in sorted(Counter(r["kind"] for r in results).items())))
    print("by status: " + ", ".join(f"{k}: {n}" for k, n in sorted(Counter(r["status"] for r in results).items())))
    print(f"slowest {max(r['seconds'] for r in results):.1f} s, peak RSS {max(r['peak_mb'] for r in results):.0f} MB")
    for key, hits in bad.items():
        print(f"{key:10s} {len(hits)}")
        for r in hits[:5]:
            print(f"    harken {' '.join(r['argv'])}\n      {r['stderr'].strip()[-300:]!r} {r['changed'][:3]}")
    if args.keep:
        (work / "results.json").write_text(json.dumps(results, indent=1))
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if any(bad.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
