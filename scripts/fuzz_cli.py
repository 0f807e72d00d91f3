"""Throw a few hundred generated bad inputs at the harken CLI and count what must never happen.

    .venv/bin/python scripts/fuzz_cli.py [--cases 300] [--seed 0] [--jobs 2] [--timeout 60] [--memory-mb 2048]

Each case is one `harken` subprocess (transcribe, eval, align, data check, data prepare) on inputs made for
it: WAV headers with random rates, channels, sizes and formats, flipped or cut bytes, NaN samples, FIFOs and
folders named .wav; manifests with random field values, broken UTF-8, deep nesting and long lines; .nemo
files with random config values, YAML alias bombs, gzip bombs, cut archives and tokenizer paths outside the
archive; outputs aimed at the inputs; absurd option values. Every subprocess runs under `resource.setrlimit`
(address space capped at --memory-mb) and a wall-clock timeout. Counted, and all expected to be zero:

  traceback   a Python traceback on stderr
  hang        still running at --timeout
  memory      peak RSS over the cap, a MemoryError, or the "out of memory" message
  crashed     killed by a signal
  changed     an input file (or the shared model and audio) whose bytes changed, or that vanished

The subprocesses get HARKEN_MAX_PARAMS=1e8, the model-size limit sized to the cap (README 'Limits and
guarantees': the defaults suit a machine with 8+ GB free; lower them to fit a smaller one).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "nemo" / "quartznet_tiny" / "model.nemo"
SPEECH = ROOT / "tests" / "data" / "nemo" / "ctc_timestamps" / "utt1.wav"
ODD_NUMBERS = [0, -1, 1, 7, 2**15, 2**31 - 1, 2**32 - 1, 10**7, 10**12, 1.5, -0.5, 1e308]
ODD_VALUES = ODD_NUMBERS + ["", "x", None, True, [], {}, [1, 2], "${nowhere}", "\udcff"[:0] + "é" * 3]


@dataclass
class Case:
    kind: str
    argv: list[str]
    folder: Path
    env: dict = field(default_factory=dict)
    may_change: list[str] = field(default_factory=list)  # an --output given with --overwrite that is no input


# ------------------------------------------------------------------ generated inputs
def wav(rng: random.Random, path: Path) -> Path:
    """A WAV whose header fields are each sometimes absurd, with a random amount of data after it."""
    rate = rng.choice([1, 7, 100, 999, 8000, 16000, 44100, 10**6, 2**31 - 1, 0])
    channels = rng.choice([1, 1, 2, 0, 3, 300, 65535])
    bits = rng.choice([16, 16, 8, 24, 32, 0, 7, 64])
    fmt = rng.choice([1, 1, 3, 0, 0xFFFE, 85, 2])
    data = rng.randbytes(rng.choice([0, 1, 2, 100, 4000, 40000]))
    declared = rng.choice([len(data), len(data), 0, 2**32 - 1, len(data) * 1000])
    align = max(channels * bits // 8, 1) & 0xFFFF
    hdr = struct.pack("<IHHIIHH", 16, fmt, channels & 0xFFFF, rate & 0xFFFFFFFF,
                      (rate * align) & 0xFFFFFFFF, align, bits)
    path.write_bytes(b"RIFF" + struct.pack("<I", (36 + declared) & 0xFFFFFFFF) + b"WAVEfmt " + hdr + b"data"
                     + struct.pack("<I", declared & 0xFFFFFFFF) + data)
    return path


def bad_audio(rng: random.Random, folder: Path, name: str = "a.wav") -> Path:
    path = folder / name
    choice = rng.randrange(9)
    if choice <= 2:
        return wav(rng, path)
    good = SPEECH.read_bytes()
    if choice == 3:  # flipped bytes
        data = bytearray(good)
        for _ in range(rng.choice([1, 10, 100])):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
    elif choice == 4:  # cut short
        path.write_bytes(good[:rng.randrange(len(good))])
    elif choice == 5:  # float samples that are not numbers
        import numpy as np
        import soundfile as sf

        x = np.zeros(1600, dtype=np.float32)
        x[rng.randrange(1600)] = rng.choice([np.nan, np.inf, -np.inf, 1e30])
        sf.write(path, x, 16000, subtype="FLOAT")
    elif choice == 6:
        os.mkfifo(path)
    elif choice == 7:
        path.mkdir()
    else:
        path.write_bytes(rng.randbytes(rng.choice([0, 1, 44, 1000])))
    return path


def bad_manifest(rng: random.Random, folder: Path, audio: list[str]) -> Path:
    rows = []
    for _ in range(rng.randint(0, 4)):
        r = {"audio_filepath": rng.choice(audio), "duration": 1.0, "text": "the cat"}
        if rng.random() < 0.5:
            r[rng.choice(["duration", "offset", "text", "audio_filepath", "text_filepath"])] = rng.choice(ODD_VALUES)
        rows.append(json.dumps(r, allow_nan=True).encode())
    extra = rng.randrange(8)
    if extra == 0:
        rows.append(b'{"audio_filepath": "caf\xe9.wav", "duration": 1}')
    elif extra == 1:
        rows.append(b"[" * rng.choice([100, 10000, 200000]))
    elif extra == 2:
        rows.append(b'{"audio_filepath": "' + b"a" * 5000 + b'", "duration": 1}')
    elif extra == 3:
        rows.insert(0, b"\xef\xbb\xbf" + json.dumps({"audio_filepath": audio[0], "duration": 1}).encode())
    elif extra == 4:
        os.mkfifo(folder / "t.txt")
        rows.append(json.dumps({"audio_filepath": audio[0], "duration": 1, "text_filepath": "t.txt"}).encode())
    elif extra == 5 and rows:
        rows[0] = rows[0][:rng.randrange(len(rows[0]))]
    path = folder / "m.json"
    path.write_bytes(b"\n".join(rows) + (b"\n" if rows else b""))
    return path


def _members() -> dict[str, bytes]:
    with tarfile.open(TINY) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


MEMBERS = _members()
CONFIG_NAME = next(k for k in MEMBERS if k.endswith("model_config.yaml"))
CONFIG = yaml.safe_load(MEMBERS[CONFIG_NAME])


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))
    yield prefix


def bad_model(rng: random.Random, folder: Path) -> Path:
    members, cfg = dict(MEMBERS), copy.deepcopy(CONFIG)
    choice, mode = rng.randrange(8), "w"
    if choice <= 2:  # random values at random keys of the sections that build the model
        keys = [p for p in _paths(cfg) if p and p[0] in ("preprocessor", "encoder", "decoder", "labels")]
        for _ in range(rng.randint(1, 3)):
            *parents, last = rng.choice(keys)
            node = cfg
            for p in parents:
                node = node[p]
            node[last] = rng.choice(ODD_VALUES)
    elif choice == 3:
        cfg["tokenizer"] = {"type": rng.choice(["wpe", "bpe"]), "vocab_path": "/etc/passwd",
                            "model_path": str(SPEECH), "dir": "/etc"}
    text = yaml.safe_dump(cfg).encode()
    if choice == 4:
        text += b"b0: &b0 [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
            f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]\n".encode() for i in range(1, 9))
    elif choice == 5:
        text += b"# caf\xe9\n"
    members[CONFIG_NAME] = text
    if choice == 6:
        members["./big.bin"], mode = bytes(rng.choice([50, 300]) << 20), "w:gz"
    path = folder / "m.nemo"
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    if choice == 7:
        data = bytearray(path.read_bytes())
        cut = rng.choice(["cut", "flip"])
        if cut == "cut":
            data = data[:rng.randrange(len(data))]
        else:
            for _ in range(20):
                data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
    return path


def make_case(rng: random.Random, folder: Path, base: Path) -> Case:
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


def run_case(case: Case, base: Path, timeout: float, memory: int) -> dict:
    before = snapshot(case.folder, base)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        os.setsid()

    env = {**os.environ, "HARKEN_MAX_PARAMS": "1e8", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **case.env}
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
    p.add_argument("--keep", help="keep the generated inputs and results.json in this folder (default: a temporary "
                                  "one, removed)")
    args = p.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="harken-fuzz-"))
    base = work / "base"
    base.mkdir(parents=True, exist_ok=True)
    shutil.copy(SPEECH, base / "good.wav")
    shutil.copy(TINY, base / "tiny.nemo")
    rng = random.Random(args.seed)
    cases = []
    for i in range(args.cases):
        folder = work / f"case{i:04d}"
        folder.mkdir()
        cases.append(make_case(rng, folder, base))
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
