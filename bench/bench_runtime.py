"""Deployment speed (issue #35 part 5): files in, text out, for harken eager (torch), harken's onnxruntime runtime
(float32 and int8), NeMo 3.0 eager and sherpa-onnx, in one sitting, alternating, on the same models.

    .venv/bin/python bench/bench_runtime.py --nemo-python $NEMO_VENV/bin/python [--rounds 3] [--reps 5]
        [--models quartznet_5x5,quartznet_15x5,harken_en_small,fastconformer_ctc_small] [--threads 2]
        [--sides harken-torch,harken-onnx,harken-onnx-int8,nemo,sherpa-onnx] [--append bench/RESULTS.md]
    .venv/bin/python bench/bench_runtime.py --quick --nemo-python $NEMO_VENV/bin/python   # checks it runs

Models: QuartzNet 5x5 and 15x5 and FastConformer-CTC small built from harken's configs with random weights
(seed 0; speed does not depend on weights), and the shipped harken_en_small. Each is saved as one .nemo that
harken and NeMo both load, and exported once with `harken export` (float32, and `--quantize int8`); harken's
runtime and sherpa-onnx (`from_nemo_ctc`) run the same float32 file. Prepared files and the audio (eight 10 s
espeak-ng recordings) are kept in --work-dir and reused.

Each measurement is a fresh child process (2 threads: torch.set_num_threads / onnxruntime intra-op threads /
sherpa-onnx num_threads, and OMP_NUM_THREADS); per round the sides run in rotating order. A child:
  start -> import -> load the model -> transcribe file 1  [first transcript: from the parent's Popen]
  -> batch 1: file 1, warm-up then --reps timed calls    [RTFx b=1 = 10 s / median call]
  -> batch 8: files 1-8 in one call, warm-up then --reps  [RTFx b=8 = 80 s / median call]
  -> peak RSS (ru_maxrss) of the child.
Calls are toolkits' own file-to-text paths: harken `model.transcribe(paths, batch_size=B)`, the runtime's
`decode` of the paths (batch_size B), NeMo `model.transcribe(paths, batch_size=B, num_workers=0)`, sherpa-onnx
streams of soundfile-read files decoded with `decode_streams`; all greedy. Disturbed calls and rounds are dropped
as bench/bench_rounds.py says. The last column counts files (of 8) whose text equals harken-torch's.
"""

from __future__ import annotations

import argparse
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rounds import append_block, median_kept, rotated, round_value, run_child, summary, wait_quiet  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["quartznet_5x5", "quartznet_15x5", "harken_en_small", "fastconformer_ctc_small"]
SIDES = ["harken-torch", "harken-onnx", "harken-onnx-int8", "nemo", "sherpa-onnx"]
SECONDS, FILES, SR = 10.0, 8, 16000

# each defines transcribe(paths) -> texts; CHILD_BODY then measures it
CHILDREN = {
    "harken-torch": r"""
import torch
torch.set_num_threads(job["threads"])
import harken
model = harken.load(job["nemo"])
def transcribe(paths):
    with torch.inference_mode():
        return model.transcribe(paths, batch_size=len(paths))
""",
    "harken-onnx": r"""
from harken.runtime import load_recognizer
rec = load_recognizer(job["onnx"], threads=job["threads"], batch_size=8)
def transcribe(paths):
    return [rec.decode_text(seq) for _, seq, _ in rec.decode(paths)]
""",
    "nemo": r"""
import logging
import torch
torch.set_num_threads(job["threads"])
from nemo.utils import logging as nemo_logging
nemo_logging.setLevel(logging.ERROR)
from nemo.collections.asr.models import ASRModel
model = ASRModel.restore_from(job["nemo"], map_location="cpu").eval()
def transcribe(paths):
    with torch.inference_mode():
        out = model.transcribe(paths, batch_size=len(paths), verbose=False, num_workers=0)
    out = out[0] if isinstance(out, tuple) else out
    return [o.text if hasattr(o, "text") else o for o in out]
""",
    "sherpa-onnx": r"""
import sherpa_onnx
import soundfile as sf
onnx = job["onnx"] + "/model.onnx"
rec = sherpa_onnx.OfflineRecognizer.from_nemo_ctc(model=onnx, tokens=job["onnx"] + "/tokens.txt",
                                                  num_threads=job["threads"], feature_dim=job["feat_dim"])
def transcribe(paths):
    streams = []
    for p in paths:
        wave, rate = sf.read(p, dtype="float32")
        s = rec.create_stream()
        s.accept_waveform(rate, wave)
        streams.append(s)
    rec.decode_streams(streams)
    return [s.result.text for s in streams]
""",
}
CHILDREN["harken-onnx-int8"] = CHILDREN["harken-onnx"].replace('job["onnx"]', 'job["onnx_int8"]')

CHILD_BODY = r"""
wavs = job["wavs"]
first = transcribe(wavs[:1])
t_first = time.time()
peak_first = peak_mb()
foreign_first = foreign_since_start()
b1 = timed_calls(lambda: transcribe(wavs[:1]), job["reps"])
b8 = timed_calls(lambda: transcribe(wavs), job["reps"])
done({"t_first": t_first, "foreign_first": foreign_first, "b1": b1, "b8": b8, "texts": transcribe(wavs),
      "first": first[0], "peak_first_mb": peak_first, "peak_mb": peak_mb(), "torch_imported": "torch" in sys.modules})
"""


def prepare(name: str, work: Path) -> dict:
    """The model's .nemo and its float32 and int8 exports (made once in `work`)."""
    import torch

    import harken
    from harken.configs import load_named_config
    from harken.export import export
    from harken.models.ctc_model import ASRModel

    folder = work / name
    shipped = name == "harken_en_small"
    nemo = ROOT / "harken/pretrained/models/harken_en_small.nemo" if shipped else folder / "model.nemo"
    f32, int8 = folder / "onnx", folder / "onnx_int8"
    if not (f32 / "model.onnx").is_file() or not (int8 / "model.onnx").is_file() or not nemo.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        if not shipped:
            torch.manual_seed(0)
            ASRModel.from_config(load_named_config(name)).save(nemo)
        model = harken.load(nemo)
        export(model, f32 / "model.onnx")
        export(model, int8 / "model.onnx", quantize="int8")
    from harken.runtime import load_recognizer

    feat_dim = load_recognizer(f32).front_end.features  # what sherpa-onnx must be told
    return {"nemo": str(nemo), "onnx": str(f32), "onnx_int8": str(int8), "feat_dim": int(feat_dim)}


def make_audio(folder: Path) -> list[str]:
    """Eight 10.0 s files of espeak-ng sentences (recipes/harken_en_small/sentences.txt), made once."""
    import numpy as np
    import soundfile as sf

    from harken.synth.espeak import speak

    paths = [folder / f"speech_{i}.wav" for i in range(FILES)]
    if all(p.is_file() for p in paths):
        return [str(p) for p in paths]
    folder.mkdir(parents=True, exist_ok=True)
    lines = [s.strip() for s in (ROOT / "recipes/harken_en_small/sentences.txt").read_text().splitlines()
             if len(s.split()) >= 6]
    gap, k = np.zeros(int(0.3 * SR), dtype=np.float32), 0
    for path in paths:
        parts, total = [], 0
        while total < SECONDS * SR:
            wave = speak(lines[k], "en-us", 160, 50, SR)
            parts, total, k = parts + [wave, gap], total + len(wave) + len(gap), k + 1
        audio = np.concatenate(parts)[: int(SECONDS * SR)]
        sf.write(path, 0.9 * audio / max(1e-6, float(np.abs(audio).max())), SR, subtype="PCM_16")
    return [str(p) for p in paths]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    p.add_argument("--sides", default=",".join(SIDES), help=f"comma-separated, of {', '.join(SIDES)}")
    p.add_argument("--nemo-python", help="python of a NeMo 3.0 venv (without it the nemo side is left out)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reps", type=int, default=5, help="timed calls per batch size in each child")
    p.add_argument("--work-dir", default=str(ROOT / "runs/bench_runtime"), help="prepared models and audio")
    p.add_argument("--max-foreign", type=float, default=0.15,
                   help="drop calls during which other processes used more cores than this")
    p.add_argument("--quiet-threshold", type=float, default=0.3,
                   help="before each child, wait until all processes use fewer cores than this ...")
    p.add_argument("--quiet-wait", type=float, default=120.0, help="... for at most this many seconds")
    p.add_argument("--quick", action="store_true", help="one round, 2 calls, the shipped model only")
    p.add_argument("--append", metavar="FILE", help="also add the table to FILE (e.g. bench/RESULTS.md)")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.reps, args.quiet_wait, args.models = 1, 2, 0.0, "harken_en_small"
    models = [m for m in args.models.split(",") if m]
    sides = [s for s in args.sides.split(",") if s and (s != "nemo" or args.nemo_python)]
    for name in [*models, *sides]:
        if name not in MODELS + SIDES:
            sys.exit(f"unknown model or side {name!r}")
    work = Path(args.work_dir)
    wavs = make_audio(work / "audio")
    jobs = {m: {**prepare(m, work), "wavs": wavs, "reps": args.reps} for m in models}
    runs: dict[tuple[str, str], list[dict]] = {(m, s): [] for m in models for s in sides}
    for rnd in range(args.rounds):
        for m in models:
            for side in rotated(sides, rnd):
                waited = wait_quiet(args.quiet_threshold, args.quiet_wait)
                python = args.nemo_python if side == "nemo" else sys.executable
                r = run_child(python, CHILDREN[side] + CHILD_BODY, jobs[m], args.threads,
                              cwd=str(work) if side == "nemo" else str(ROOT))
                r["first_s"] = r["t_first"] - r["launched"]
                runs[m, side].append(r)
                print(f"round {rnd + 1} {m} {side} (waited {waited:.0f} s): first transcript {r['first_s']:.1f} s, "
                      f"best RTFx b=1 {SECONDS / min(c[0] for c in r['b1']):.1f}, "
                      f"b=8 {FILES * SECONDS / min(c[0] for c in r['b8']):.1f}, peak RSS {r['peak_mb']:.0f} MB, "
                      f"foreign cores <= {max(c[1] for c in r['b1'] + r['b8']):.2f}, torch imported: "
                      f"{r['torch_imported']}", flush=True)
    print()
    table = render(runs, models, sides, args)
    print(table)
    if args.append:
        append_block(args.append, table)


def render(runs: dict, models: list[str], sides: list[str], args: argparse.Namespace) -> str:
    lines = [f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {args.threads} threads, {platform.machine()}; "
             f"`python bench/bench_runtime.py {' '.join(sys.argv[1:])}`", "",
             "| model | side | RTFx b=1 (10 s) | RTFx b=8 (8 x 10 s) | peak RSS MB | start to first transcript s | "
             "texts = harken-torch |", "|---|---|---|---|---|---|---|"]
    for m in models:
        ref = runs[m, "harken-torch"][0]["texts"] if "harken-torch" in sides else None
        medians = {}
        for side in sides:
            rs = runs[m, side]
            b1 = [round_value(r["b1"], SECONDS, args.max_foreign) for r in rs]
            b8 = [round_value(r["b8"], FILES * SECONDS, args.max_foreign) for r in rs]
            first = [r["first_s"] if r["foreign_first"] <= args.max_foreign else None for r in rs]
            medians[side] = (median_kept(b1), median_kept(b8))
            same = f"{sum(a == b for a, b in zip(rs[0]['texts'], ref))}/{FILES}" if ref else "-"
            lines.append(f"| {m} | {side} | {summary(b1)} | {summary(b8)} | "
                         f"{summary([r['peak_mb'] for r in rs], '{:.0f}')} | {summary(first, '{:.2f}')} | {same} |")
        for ours in ("harken-onnx", "harken-onnx-int8"):
            for theirs in ("nemo", "sherpa-onnx"):
                if ours in medians and theirs in medians:
                    ratios = [f"{a / b:.2f}x" if a and b else "-" for a, b in zip(medians[ours], medians[theirs])]
                    lines.append(f"| {m} | {ours} / {theirs} | {ratios[0]} | {ratios[1]} | | | |")
    lines += ["", f"Median over kept rounds (range, rounds kept); calls with other processes above {args.max_foreign} "
              "cores dropped, rounds with under half their calls clean dropped, first-transcript times of children "
              "disturbed before their first transcript dropped."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
