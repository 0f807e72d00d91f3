"""Long recordings: memory, speed and accuracy of chunked inference (harken/inference/long_audio.py).

    .venv/bin/python bench/bench_long_audio.py [--model M] [--hours 1] [--configs 30:5,30:2,60:5] [--work DIR]

(a) Memory and speed: a recording of `--hours` (default 1 h) is made from 80 espeak-ng utterances (varied
voices, rates and gaps) looped and written block by block. For each chunk_s:context_s of `--configs`, a child
process loads the model, sets 2 torch threads, runs `harken.Transcriber(model)([path])` (consuming the
Transcript) and reports its peak RSS (ru_maxrss) and the wall time of the transcription alone (model loading
excluded, one warm-up call first) -> RTFx = audio s / wall s. The long-vs-short speed ratio is measured apart,
in one child, interleaving the folder of the 80 short utterances (one file each, batched 8 at a time as the
Transcriber does) with a 6-minute file (chunked like the hour), best of 5 rounds: this machine is shared and a
single wall time drifts by 2-3x with the other jobs. Audio s per CPU s of the process is printed too.
(b) Accuracy: 150 held-out test sentences (the synthetic corpus's test voices, never heard in training)
joined into one 10-15 minute file with 0.3-1.0 s gaps. WER of its chunked transcript against the joined
references, of a whole-file decode of the same file, and of the utterances transcribed one by one (joined).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from harken.metrics.wer import word_errors
from harken.synth.corpus import TEST_ACCENTS, TEST_VARIANTS
from harken.synth.espeak import speak

SR = 16000
MODEL = "harken/pretrained/models/harken_en_small.nemo"
SUBJECTS = ["the old man", "my sister", "a young doctor", "the teacher", "our neighbour", "the little boy",
            "a tired farmer", "the captain", "her brother", "the driver", "a quiet girl", "the baker",
            "my grandmother", "the new student", "a tall soldier", "the painter"]
VERBS = ["found", "carried", "painted", "opened", "watched", "sold", "cleaned", "brought", "lost", "wanted",
         "fixed", "counted", "washed", "moved", "visited", "closed"]
OBJECTS = ["a heavy box", "the red door", "some fresh bread", "an old letter", "the broken chair",
           "a small garden", "the blue car", "a warm coat", "the wooden table", "a basket of apples",
           "the kitchen window", "a long rope", "the empty bottle", "a bag of rice", "the green gate"]
PLACES = ["near the river", "after dinner", "in the morning", "before the rain", "at the station",
          "behind the house", "on a cold day", "across the street", "during the summer", "in the village",
          "at the market", "under the bridge"]
CLAUSES = ["and then she went home", "because it was very late", "while the children were sleeping",
           "but nobody saw it", "so we had to wait", "and the dog began to bark", "when the bell rang",
           "although the road was wet", "and everyone was happy", "before the light went out"]
LONG_VOICES = ["en-us", "en-gb", "en-gb-scotland+f2", "en-029+m3", "en-gb-x-rp+f1", "en-us+m2", "en-gb+klatt",
               "en-us-nyc+f3"]

CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
torch.set_num_threads(2)
import harken
a = json.loads(sys.argv[1])
model = harken.load(a["model"])
list(harken.Transcriber(model)([np.zeros(5 * model.sample_rate, dtype=np.float32)]))  # warm-up
load_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {}
for _ in range(a["rounds"]):  # runs interleaved, best of the rounds kept: the machine is shared
    for run in a["runs"]:
        tr = harken.Transcriber(model, long_audio_s=run["long_audio_s"], chunk_s=run["chunk_s"],
                                context_s=run["context_s"], split_at_pauses=run["split"])
        t0, cpu0, audio, texts, split = time.perf_counter(), time.process_time(), 0.0, [], []
        for t in tr(run["paths"]):
            audio += t.duration
            texts.append(t.text)
            words = [tok.text for tok in t.tokens[:1]]  # the text again, a word boundary at every pause >= 0.3 s
            for p, q in zip(t.tokens, t.tokens[1:]):
                words.append(" " if q.start - p.end >= 0.3 and p.text.strip() and q.text.strip() else "")
                words.append(q.text)
            split.append("".join(words))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        best = out.get(run["name"], {"wall_s": wall, "cpu_s": cpu})
        out[run["name"]] = {"audio_s": audio, "wall_s": min(wall, best["wall_s"]), "cpu_s": min(cpu, best["cpu_s"]),
                            "texts": texts, "split": split}
print(json.dumps({"runs": out, "load_rss_mb": load_mb,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def sentences(rng: np.random.Generator, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        s = " ".join(str(rng.choice(x)) for x in (SUBJECTS, VERBS, OBJECTS, PLACES, CLAUSES))
        if s not in out:
            out.append(s)
    return out


def render(texts: list[str], voices: list[str], rng: np.random.Generator) -> list[np.ndarray]:
    """Each text spoken by a voice, rate and pitch drawn from `rng`, trimmed of its own silence."""
    jobs = [(t, voices[rng.integers(len(voices))], int(rng.integers(140, 191)), int(rng.integers(35, 66)))
            for t in texts]

    def one(job):
        w = speak(job[0], job[1], job[2], job[3], SR)
        loud = np.flatnonzero(np.abs(w) > 1e-3)
        return w[loud[0]:loud[-1] + 1]

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, jobs))


def write_joined(path: Path, utts: list[np.ndarray], rng: np.random.Generator, gap: tuple[float, float],
                 seconds: float | None = None) -> float:
    """Utterances with random gaps, looped until `seconds` when given (each once otherwise), written one
    utterance at a time. Returns the length in seconds."""
    written, i = 0, 0
    with sf.SoundFile(str(path), "w", SR, 1, "PCM_16") as f:
        while (i < len(utts)) if seconds is None else written < seconds * SR:
            pause = np.zeros(int(rng.uniform(*gap) * SR), np.float32)
            block = np.concatenate([pause, utts[i % len(utts)]])
            if seconds is not None:
                block = block[:int(seconds * SR) - written]
            f.write(block)
            written += len(block)
            i += 1
        f.write(np.zeros(int(gap[1] * SR), np.float32))
    return written / SR + gap[1]


def run(name: str, paths: list[str], chunk_s: float = 30.0, context_s: float = 5.0,
        long_audio_s: float = 60.0, split: bool = True) -> dict:
    return {"name": name, "paths": paths, "chunk_s": chunk_s, "context_s": context_s, "long_audio_s": long_audio_s,
            "split": split}


def child(model: str, runs: list[dict], rounds: int = 1) -> dict:
    """Runs in a fresh process: {"runs": {name: audio_s, wall_s, cpu_s, texts, split}, peak_rss_mb, ...}."""
    args = {"model": model, "runs": runs, "rounds": rounds}
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def wer(refs: list[str], hyp: str) -> float:
    return 100 * word_errors(" ".join(refs), hyp).rate


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=MODEL)
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--configs", default="30:5,30:2,60:5", help="chunk_s:context_s pairs for the long files")
    p.add_argument("--work", help="folder for the audio (default: a temporary one)")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-wer", action="store_true")
    args = p.parse_args()
    tmp = tempfile.TemporaryDirectory() if args.work is None else None
    work = Path(args.work or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    configs = [tuple(float(x) for x in c.split(":")) for c in args.configs.split(",")]
    t0 = time.time()
    if not args.skip_speed:
        rng = np.random.default_rng(7)
        utts = render(sentences(rng, 80), LONG_VOICES, rng)
        short = []
        for i, u in enumerate(utts):
            short.append(str(work / f"short{i:03d}.wav"))
            sf.write(short[-1], u, SR)
        long_path, mid_path = work / "long.wav", work / "mid.wav"
        hours = write_joined(long_path, utts, rng, (0.3, 1.5), args.hours * 3600) / 3600
        minutes = write_joined(mid_path, utts, rng, (0.3, 1.5), 360) / 60
        print(f"audio made in {time.time() - t0:.0f} s: {len(short)} short files "
              f"({sum(len(u) for u in utts) / SR:.0f} s), a {hours:.2f} h and a {minutes:.1f} min file", flush=True)
        print(f"\n| {hours:g} h file | wall | RTFx | peak RSS (after loading the model) | load average before, after "
              "|\n|---|---|---|---|---|")
        for chunk, ctx in configs:
            load = os.getloadavg()[0]
            r = child(args.model, [run("long", [str(long_path)], chunk, ctx)])
            x = r["runs"]["long"]
            print(f"| chunk {chunk:g} s + 2 x {ctx:g} s context | {x['wall_s']:.1f} s | "
                  f"{x['audio_s'] / x['wall_s']:.1f} | {r['peak_rss_mb']:.0f} MB ({r['load_rss_mb']:.0f} MB) | "
                  f"{load:.1f}, {os.getloadavg()[0]:.1f} |", flush=True)
        runs = [run("short files, 8 a batch", short)]
        runs += [run(f"{minutes:.1f} min file, chunk {chunk:g} s + 2 x {ctx:g} s", [str(mid_path)], chunk, ctx)
                 for chunk, ctx in configs]
        r = child(args.model, runs, rounds=5)["runs"]
        base = {k: r[runs[0]["name"]]["audio_s"] / r[runs[0]["name"]][k] for k in ("wall_s", "cpu_s")}
        print("\nInterleaved, best of 5 rounds:\n\n| run | audio | RTFx (wall) | % of short | audio s per CPU s "
              "| % of short |\n|---|---|---|---|---|---|")
        for name, x in r.items():
            w, c = x["audio_s"] / x["wall_s"], x["audio_s"] / x["cpu_s"]
            print(f"| {name} | {x['audio_s']:.0f} s | {w:.1f} | {100 * w / base['wall_s']:.0f}% | {c:.1f} | "
                  f"{100 * c / base['cpu_s']:.0f}% |")
    if not args.skip_wer:
        rng = np.random.default_rng(11)
        refs = sentences(rng, 150)
        voices = [a + v for a in TEST_ACCENTS for v in TEST_VARIANTS]
        utts = render(refs, voices, rng)
        files = []
        for i, u in enumerate(utts):
            files.append(str(work / f"test{i:03d}.wav"))
            sf.write(files[-1], u, SR)
        joined = work / "test_joined.wav"
        minutes = write_joined(joined, utts, rng, (0.3, 1.0)) / 60
        runs = [run("one by one, hypotheses joined", files),
                run("joined file, the Transcriber's default (cut at pauses, regions decoded apart)", [str(joined)]),
                run("joined file, whole-file decode (no chunks)", [str(joined)], long_audio_s=1e9)]
        runs += [run(f"joined file, chunked ({chunk:g} s + 2 x {ctx:g} s), no cuts at pauses", [str(joined)], chunk,
                     ctx, split=False) for chunk, ctx in configs]
        r = child(args.model, runs)["runs"]
        print(f"\n{len(refs)} test utterances, {sum(len(u) for u in utts) / SR / 60:.1f} min of speech, "
              f"joined file {minutes:.1f} min\n\n| transcription | WER | WER, words split at pauses >= 0.3 s |")
        print("|---|---|---|")
        for name, x in r.items():
            print(f"| {name} | {wer(refs, ' '.join(x['texts'])):.2f}% | {wer(refs, ' '.join(x['split'])):.2f}% |")
    print(f"\ntotal {time.time() - t0:.0f} s", flush=True)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
