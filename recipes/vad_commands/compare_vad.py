"""harken's frame VAD vs silero-vad on held-out mixtures: frame F1, miss and false-alarm rates, speed.

    python recipes/vad_commands/compare_vad.py VAD.nemo TEST_MANIFEST

Both run on one CPU thread (torch and onnxruntime). Each system's speech segments (its own post-processing:
NeMo's frame_vad_infer defaults for harken, `get_speech_timestamps` defaults for silero) are put on the
manifest's 20 ms label grid (a frame is speech when its centre lies in a segment) and scored against the
labels; "pad 30 ms" is harken's with silero's padding instead of NeMo's 0.2 s (nothing tuned on this set);
"raw" rows score each model's frame probabilities at 0.5 without post-processing. RTFx is audio
seconds per second of compute (model + post-processing; reading files not counted).
Needs `pip install silero-vad onnxruntime` (silero's ONNX model ships in that package).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import harken
from harken.audio.io import load_audio
from harken.data.manifest import read_manifest
from harken.inference.speech_detection import default_params, detect_speech
from harken.inference.vad import speech_segments, with_overrides

SR = 16000


def on_grid(spans: list[tuple[float, float]], frames: int, shift: float) -> np.ndarray:
    centres = (np.arange(frames) + 0.5) * shift
    out = np.zeros(frames, bool)
    for start, end in spans:
        out |= (centres >= start) & (centres < end)
    return out


def resample_curve(probs: np.ndarray, step: float, frames: int, shift: float) -> np.ndarray:
    """A probability curve with one value per `step` seconds, read at the centres of `frames` label frames."""
    idx = np.minimum(((np.arange(frames) + 0.5) * shift / step).astype(int), len(probs) - 1)
    return probs[idx]


def score(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    tp, fp = int(np.sum(pred & ref)), int(np.sum(pred & ~ref))
    fn, tn = int(np.sum(~pred & ref)), int(np.sum(~pred & ~ref))
    return {"f1": 2 * tp / max(2 * tp + fp + fn, 1), "miss": fn / max(tp + fn, 1), "false_alarm": fp / max(fp + tn, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("manifest")
    ap.add_argument("--shift", type=float, default=0.02, help="seconds per label in the manifest")
    args = ap.parse_args()
    from silero_vad import get_speech_timestamps, load_silero_vad

    torch.set_num_threads(1)
    vad = harken.load(args.model)
    params = default_params(vad)
    silero = load_silero_vad(onnx=True)  # onnxruntime session with 1 intra-op and 1 inter-op thread
    rows = read_manifest(args.manifest)
    tight = with_overrides(params, pad_onset=0.03, pad_offset=0.03)  # silero's default speech_pad_ms=30
    refs, preds = [], {"harken": [], "silero": [], "harken pad 30 ms": [], "harken raw": [], "silero raw": []}
    seconds = {"harken": 0.0, "silero": 0.0}
    audio_total = 0.0
    for row in rows:
        ref = np.array(row.extra["label"].split(), dtype=int).astype(bool)
        wave = load_audio(row.audio_filepath, SR)
        audio_total += len(wave) / SR
        t = time.perf_counter()
        result = detect_speech(vad, wave, params)
        seconds["harken"] += time.perf_counter() - t
        t = time.perf_counter()
        stamps = get_speech_timestamps(torch.from_numpy(wave), silero, sampling_rate=SR, return_seconds=True)
        seconds["silero"] += time.perf_counter() - t
        silero_probs = silero.audio_forward(torch.from_numpy(wave), SR)[0].numpy()
        refs.append(ref)
        n = len(ref)
        preds["harken"].append(on_grid([(s.start, s.end) for s in result.spans], n, args.shift))
        preds["silero"].append(on_grid([(s["start"], s["end"]) for s in stamps], n, args.shift))
        preds["harken pad 30 ms"].append(on_grid([(s.start, s.end) for s in speech_segments(result.probs, tight)], n,
                                                 args.shift))
        preds["harken raw"].append(resample_curve(result.probs, vad.frame_shift, n, args.shift) >= 0.5)
        preds["silero raw"].append(resample_curve(silero_probs, 512 / SR, n, args.shift) >= 0.5)
    ref = np.concatenate(refs)
    print(f"{len(rows)} mixtures, {audio_total / 60:.1f} min, {ref.mean():.0%} speech frames; 1 CPU thread\n")
    print("| system | frame F1 | miss | false alarm | RTFx |")
    print("|---|---|---|---|---|")
    for name, pred in preds.items():
        s = score(np.concatenate(pred), ref)
        base = name.split()[0]
        speed = f"{audio_total / seconds[base]:.0f}" if name == base else "-"
        print(f"| {name} | {s['f1']:.3f} | {s['miss']:.1%} | {s['false_alarm']:.1%} | {speed} |")


if __name__ == "__main__":
    main()
