"""Batch-1 latency of harken's onnxruntime recognizer vs sherpa-onnx on the same exported file, in one process,
alternating call by call (a quick check of per-call overhead; bench_runtime.py is the full table).

    .venv/bin/python bench/runtime_batch1.py $RUN_DIR/bench_runtime/harken_en_small/onnx AUDIO.wav [--reps 15]

Prints min and median milliseconds per call for: the recognizer's whole file-to-text call, sherpa-onnx's, and the
recognizer's front end + graph with numpy's BLAS left multi-threaded (what the runtime did before
`features.single_threaded_blas`).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import soundfile as sf


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("export", help="a folder written by `harken export` (model.onnx, tokens.txt)")
    p.add_argument("audio", help="a 16 kHz wav")
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    import sherpa_onnx

    from harken.runtime import load_recognizer
    from harken.runtime.audio import read_audio
    from harken.runtime.features import mel_features

    rec = load_recognizer(args.export, threads=args.threads, batch_size=8)
    sherpa = sherpa_onnx.OfflineRecognizer.from_nemo_ctc(
        model=f"{args.export}/model.onnx", tokens=f"{args.export}/tokens.txt", num_threads=args.threads,
        feature_dim=rec.front_end.features)

    def harken_call():
        return [rec.decode_text(seq) for _, seq, _ in rec.decode([args.audio])]

    def sherpa_call():
        wave, rate = sf.read(args.audio, dtype="float32")
        stream = sherpa.create_stream()
        stream.accept_waveform(rate, wave)
        sherpa.decode_streams([stream])
        return stream.result.text

    def unlimited_blas():
        feats, valid = mel_features(read_audio(args.audio, rec.sample_rate), rec.front_end, pad_to=0)
        return rec.session.run(None, dict(zip(rec._inputs, (feats[None], np.array([valid], dtype=np.int64)))))

    calls = {"harken runtime": harken_call, "sherpa-onnx": sherpa_call,
             "front end, BLAS threads unlimited": unlimited_blas}
    for call in calls.values():
        call()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(args.reps):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    for name, t in times.items():
        print(f"{name}: min {1e3 * min(t):.1f} ms, median {1e3 * float(np.median(t)):.1f} ms")


if __name__ == "__main__":
    main()
