"""Real-size transducers (the .nemo files `bench/make_real_size.py` builds), harken vs NeMo 3.0, side by side.

    $NEMO_VENV/bin/python bench/make_real_size.py --out $RUN_DIR
    .venv/bin/python bench/bench_real_size.py --run-dir $RUN_DIR --nemo-python $NEMO_VENV/bin/python \
        [--rounds 3] [--threads 2] [--models parakeet_tdt_0.6b,parakeet_tdt_ctc_110m] [--skip-check]

Audio ($RUN_DIR/audio, made once): espeak-ng sentences (recipes/harken_en_small/sentences.txt, voice en-us)
concatenated at 16 kHz and cut to exactly 60.0 s and 5.0 s (60 s is harken's `long_audio_s`: both sides decode
the file whole).

Check (first, unless --skip-check): one child per side and model runs `forward()` on the 60 s file (encoder
output: max abs difference between the two) and greedy `transcribe` of both files (and, for a hybrid, of the CTC
head too); the texts must be equal.

Bench: every measurement is a fresh child process (`OMP_NUM_THREADS` and `torch.set_num_threads` = --threads),
the two sides alternating and taking turns to go first in each round. A child:
  process start -> imports -> load the .nemo (`harken.load` / NeMo's `ASRModel.restore_from(map_location="cpu")`)
  -> eval -> transcribe the 5 s file  [= time to first transcript, from the parent's Popen]
  -> transcribe the 60 s file once (warm-up) -> transcribe it --repeats times (3), timed
     [RTFx = 60 / the median call's seconds]
  -> ru_maxrss of the child (peak RSS; also taken right after the first transcript).
Both transcribe with batch_size 1, greedy, no timestamps, inside torch.inference_mode(), from a wav path. NeMo's
`transcribe` also writes a temporary manifest and builds a (lhotse) dataloader per call (num_workers=0: no worker
processes); its restore_from extracts the archive to a temporary folder first.
The CPU time other processes took during the timed call is recorded (`foreign_cores`) to flag disturbed rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["parakeet_tdt_0.6b", "parakeet_tdt_ctc_110m"]
SR = 16000

COMMON = r"""
import json, os, resource, sys, time
T_START = time.time()
job = json.loads(sys.argv[1])
_CLK = os.sysconf("SC_CLK_TCK")

def busy_and_own():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / _CLK, ru.ru_utime + ru.ru_stime

def peak_mb(who=resource.RUSAGE_SELF):
    return resource.getrusage(who).ru_maxrss / 1024.0

def timed(fn):
    b0, o0 = busy_and_own()
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    b1, o1 = busy_and_own()
    return out, dt, max(0.0, (b1 - b0) - (o1 - o0)) / dt
"""

NEMO_CHILD = COMMON + r"""
import logging
import torch
torch.set_num_threads(job["threads"])
from nemo.utils import logging as nemo_logging
nemo_logging.setLevel(logging.ERROR)
from nemo.collections.asr.models import ASRModel
r = {"t_imported": time.time()}

def text(out):
    out = out[0] if isinstance(out, tuple) else out
    return out[0].text if hasattr(out[0], "text") else out[0]

def transcribe(path):
    with torch.inference_mode():
        return text(model.transcribe([path], batch_size=1, timestamps=False, verbose=False, num_workers=0))

t = time.perf_counter()
model = ASRModel.restore_from(job["model"], map_location="cpu")
model.eval()
r["load_s"] = time.perf_counter() - t
if job["mode"] == "check":
    import numpy as np, soundfile as sf
    x, _ = sf.read(job["long"], dtype="float32")
    with torch.inference_mode():
        enc, enc_len = model(input_signal=torch.from_numpy(x)[None], input_signal_length=torch.tensor([len(x)]))
    np.save(job["npy"], enc.numpy())
    r["texts"] = {"rnnt_5s": transcribe(job["short"]), "rnnt_60s": transcribe(job["long"])}
    if getattr(model, "ctc_decoder", None) is not None:
        model.change_decoding_strategy(decoder_type="ctc", verbose=False)
        r["texts"].update(ctc_5s=transcribe(job["short"]), ctc_60s=transcribe(job["long"]))
    r["threads"] = torch.get_num_threads()
    print("@@RESULT@@" + json.dumps(r))
    sys.exit(0)
t = time.perf_counter()
r["text_5s"] = transcribe(job["short"])
r["t_first"], r["first_call_s"] = time.time(), time.perf_counter() - t
r["peak_after_first_mb"] = peak_mb()
transcribe(job["long"])
calls = [timed(lambda: transcribe(job["long"])) for _ in range(job["repeats"])]
r["text_60s"] = calls[0][0]
r["rtf_calls_s"], r["foreign_cores_calls"] = [c[1] for c in calls], [c[2] for c in calls]
r["rtf_call_s"], r["foreign_cores"] = sorted(r["rtf_calls_s"])[len(calls) // 2], max(r["foreign_cores_calls"])
r["same_60s_every_call"] = all(c[0] == calls[0][0] for c in calls)
r["peak_mb"], r["children_peak_mb"] = peak_mb(), peak_mb(resource.RUSAGE_CHILDREN)
r["threads"], r["grad_enabled"] = torch.get_num_threads(), torch.is_grad_enabled()
r["t_start"] = T_START
print("@@RESULT@@" + json.dumps(r))
"""

HARKEN_CHILD = COMMON + r"""
import torch
torch.set_num_threads(job["threads"])
import harken
r = {"t_imported": time.time()}

def transcribe(path):
    with torch.inference_mode():
        return model.transcribe([path], batch_size=1)[0]

t = time.perf_counter()
model = harken.load(job["model"])
model.eval()
r["load_s"] = time.perf_counter() - t
if job["mode"] == "check":
    import numpy as np, soundfile as sf
    x, _ = sf.read(job["long"], dtype="float32")
    with torch.inference_mode():
        enc, enc_len = model(torch.from_numpy(x)[None], torch.tensor([len(x)]))
    np.save(job["npy"], enc.numpy())
    r["texts"] = {"rnnt_5s": transcribe(job["short"]), "rnnt_60s": transcribe(job["long"])}
    if model.ctc_decoder is not None:
        model.change_decoding_strategy(decoder_type="ctc", verbose=False)
        r["texts"].update(ctc_5s=transcribe(job["short"]), ctc_60s=transcribe(job["long"]))
    r["threads"] = torch.get_num_threads()
    print("@@RESULT@@" + json.dumps(r))
    sys.exit(0)
t = time.perf_counter()
r["text_5s"] = transcribe(job["short"])
r["t_first"], r["first_call_s"] = time.time(), time.perf_counter() - t
r["peak_after_first_mb"] = peak_mb()
transcribe(job["long"])
calls = [timed(lambda: transcribe(job["long"])) for _ in range(job["repeats"])]
r["text_60s"] = calls[0][0]
r["rtf_calls_s"], r["foreign_cores_calls"] = [c[1] for c in calls], [c[2] for c in calls]
r["rtf_call_s"], r["foreign_cores"] = sorted(r["rtf_calls_s"])[len(calls) // 2], max(r["foreign_cores_calls"])
r["same_60s_every_call"] = all(c[0] == calls[0][0] for c in calls)
r["peak_mb"], r["children_peak_mb"] = peak_mb(), peak_mb(resource.RUSAGE_CHILDREN)
r["threads"], r["grad_enabled"] = torch.get_num_threads(), torch.is_grad_enabled()
r["t_start"] = T_START
print("@@RESULT@@" + json.dumps(r))
"""


def make_audio(folder: Path) -> tuple[Path, Path]:
    """60.0 s and 5.0 s of espeak-ng sentences at 16 kHz (made once; the same files for every run)."""
    import numpy as np
    import soundfile as sf

    from harken.synth.espeak import speak

    long, short = folder / "speech_60s.wav", folder / "speech_5s.wav"
    if long.exists() and short.exists():
        return long, short
    folder.mkdir(parents=True, exist_ok=True)
    lines = [s.strip() for s in (ROOT / "recipes/harken_en_small/sentences.txt").read_text().splitlines()
             if len(s.split()) >= 8]
    gap = np.zeros(int(0.3 * SR), dtype=np.float32)
    for path, seconds, first in ((long, 60.0, 100), (short, 5.0, 10)):
        parts, total, i = [], 0, first
        while total < seconds * SR:
            wave = speak(lines[i], "en-us", 160, 50, SR)
            parts += [wave, gap]
            total += len(wave) + len(gap)
            i += 1
        audio = np.concatenate(parts)[: int(seconds * SR)]
        sf.write(path, 0.9 * audio / max(1e-6, float(np.abs(audio).max())), SR, subtype="PCM_16")
    return long, short


def busy_seconds() -> float:
    """CPU-seconds all CPUs have been busy (steal included), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def wait_quiet(threshold: float, longest: float) -> tuple[float, float]:
    """Wait (up to `longest` s) until other processes use under `threshold` cores; (cores busy, waited s)."""
    waited = 0.0
    while True:
        b0 = busy_seconds()
        time.sleep(2)
        busy = (busy_seconds() - b0) / 2
        if busy < threshold or waited >= longest:
            return busy, waited
        waited += 2 + 8
        time.sleep(8)


def child(side: str, job: dict, python: str, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PYTHONPATH", None)
    code = NEMO_CHILD if side == "nemo" else HARKEN_CHILD
    b0, c0 = busy_seconds(), children_cpu()
    launched = time.time()
    run = subprocess.run([python, "-c", code, json.dumps({**job, "threads": threads})], capture_output=True,
                         text=True, env=env, cwd="/tmp" if side == "nemo" else ROOT)
    wall = time.time() - launched
    foreign = max(0.0, (busy_seconds() - b0) - (children_cpu() - c0)) / wall
    lines = [line for line in run.stdout.splitlines() if line.startswith("@@RESULT@@")]
    if run.returncode != 0 or not lines:
        sys.exit(f"{side} child failed (rc {run.returncode}):\n{run.stderr[-4000:]}")
    r = json.loads(lines[-1][len("@@RESULT@@"):])
    r["launched"], r["process_wall_s"], r["foreign_cores_process"] = launched, wall, foreign
    if "t_first" in r:
        r["cold_start_s"] = r["t_first"] - launched
        r["import_s"] = r["t_imported"] - launched
        r["rtfx"] = 60.0 / r["rtf_call_s"]
    return r


def check(name: str, model: Path, long: Path, short: Path, run_dir: Path, nemo_python: str, threads: int) -> str:
    import numpy as np

    res = {}
    for side, python in (("nemo", nemo_python), ("harken", sys.executable)):
        npy = run_dir / f"check_{name}_{side}.npy"
        res[side] = child(side, {"mode": "check", "model": str(model), "long": str(long), "short": str(short),
                                 "npy": str(npy)}, python, threads)
        res[side]["encoded"] = np.load(npy)
    a, b = res["nemo"]["encoded"], res["harken"]["encoded"]
    diff = float(np.abs(a - b).max()) if a.shape == b.shape else float("nan")
    same = res["nemo"]["texts"] == res["harken"]["texts"]
    print(f"check {name}: encoder {a.shape} max abs diff {diff:.2e}, greedy texts equal: {same}", flush=True)
    if not same:
        print(json.dumps({"nemo": res["nemo"]["texts"], "harken": res["harken"]["texts"]}, indent=1))
    texts = res["nemo"]["texts"]
    shown = "; ".join(f"{k}: {len(v)} chars, {v[:24]!r}..." for k, v in texts.items())
    return (f"| {name} | {tuple(a.shape)} | {diff:.2e} | {'same' if same else 'DIFFERENT'} | {shown} |")


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", required=True, help="the folder make_real_size.py wrote")
    p.add_argument("--nemo-python", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--repeats", type=int, default=3, help="timed transcribe calls of the 60 s file per child")
    p.add_argument("--skip-check", action="store_true")
    p.add_argument("--quiet-threshold", type=float, default=0.3,
                   help="before each child, wait until other processes use fewer cores than this")
    p.add_argument("--quiet-wait", type=float, default=900.0, help="longest wait for quiet CPUs (s)")
    args = p.parse_args()
    run_dir = Path(args.run_dir)
    long, short = make_audio(run_dir / "audio")
    models = [m for m in args.models.split(",") if m]
    pythons = {"nemo": args.nemo_python, "harken": sys.executable}
    started = time.strftime("%Y-%m-%d %H:%M")
    load = os.getloadavg()[0]
    if not args.skip_check:
        rows = [check(name, run_dir / f"{name}.nemo", long, short, run_dir, args.nemo_python, args.threads)
                for name in models]
        print("\n| model | encoder output (60 s) | max abs diff | greedy texts (5 s, 60 s; CTC head too) | NeMo's |")
        print("|---|---|---|---|---|")
        print("\n".join(rows), flush=True)
    if args.rounds < 1:
        return
    results: dict[str, dict[str, list[dict]]] = {m: {"harken": [], "nemo": []} for m in models}
    for rnd in range(args.rounds):
        for name in models:
            order = ["harken", "nemo"] if rnd % 2 == 0 else ["nemo", "harken"]
            for side in order:
                job = {"mode": "bench", "model": str(run_dir / f"{name}.nemo"), "long": str(long),
                       "short": str(short), "repeats": args.repeats}
                busy, waited = wait_quiet(args.quiet_threshold, args.quiet_wait)
                r = child(side, job, pythons[side], args.threads)
                r["busy_before"], r["waited_s"] = busy, waited
                results[name][side].append(r)
                print(f"round {rnd + 1} {name} {side}: import {r['import_s']:.1f} s, load {r['load_s']:.1f} s, "
                      f"first transcribe call {r['first_call_s']:.1f} s, "
                      f"first transcript {r['cold_start_s']:.1f} s, RTFx {r['rtfx']:.1f} "
                      f"(foreign cores: timed call {r['foreign_cores']:.2f}, process "
                      f"{r['foreign_cores_process']:.2f}; waited {waited:.0f} s), peak RSS {r['peak_mb']:.0f} MB "
                      f"(after first {r['peak_after_first_mb']:.0f} MB, children {r['children_peak_mb']:.0f} MB), "
                      f"threads {r['threads']}, grad {r['grad_enabled']}", flush=True)
    (run_dir / "bench_real_size.json").write_text(json.dumps(results, indent=1))
    print(f"\nstarted {started}, load average before {load:.2f}; rounds: {args.rounds}, threads {args.threads}")
    print("\n| model | side | start to imported | load | first transcript (cold start) | RTFx (60 s) | peak RSS | "
          "peak RSS after first transcript | same texts |")
    print("|---|---|---|---|---|---|---|---|---|")
    keys = [("import_s", "{:.1f} s"), ("load_s", "{:.1f} s"), ("cold_start_s", "{:.1f} s"), ("rtfx", "{:.1f}"),
            ("peak_mb", "{:,.0f} MB"), ("peak_after_first_mb", "{:,.0f} MB")]
    for name in models:
        h, n = results[name]["harken"], results[name]["nemo"]
        same = all(a["text_5s"] == b["text_5s"] and a["text_60s"] == b["text_60s"] for a in h for b in n) and all(
            r["same_60s_every_call"] for r in h + n)
        for side, rows in (("harken", h), ("NeMo 3.0.0", n)):
            cells = [fmt.format(median(rows, k)) + " (" + ", ".join(fmt.format(r[k]).split(" ")[0] for r in rows)
                     + ")" for k, fmt in keys]
            print(f"| {name} | {side} | " + " | ".join(cells) + f" | {'yes' if same else 'NO'} |")
        ratios = {k: median(h, k) / median(n, k) for k, _ in keys}
        print(f"| {name} | harken / NeMo | " + " | ".join(f"{ratios[k]:.2f}x" for k, _ in keys) + " | |")
    print(f"\nwrote {run_dir / 'bench_real_size.json'}")


if __name__ == "__main__":
    main()
