"""Speed of each speech engine of `harken data synth --engines` on one CPU core: seconds of audio made per second
of work (x real time), over the screening sentences, after a warm-up. Engines whose packages are absent are
listed as such. Also times WORLD warping (--warp) on espeak-ng's audio.

    python bench/synth_engines.py [--engines espeak,pico] [--cores 1]
"""

from __future__ import annotations

import argparse
import os
import time

from harken.synth.engines import ENGINES, EngineMissing, get_engine
from harken.synth.engines.screen import SENTENCES


def speed(call, seconds_of) -> float:
    call(SENTENCES[0])  # warm-up: loads the model
    start, audio_s = time.perf_counter(), 0.0
    for text in SENTENCES:
        audio_s += seconds_of(call(text))
    return audio_s / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--cores", type=int, default=1, help="pin the process to this many cores")
    args = p.parse_args()
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    print(f"| engine | training voices | test voices | x real time ({args.cores} core) | licence |")
    print("|---|---|---|---|---|")
    for name in args.engines.split(","):
        try:
            engine = get_engine(name)
        except EngineMissing as e:
            print(f"| {name} | - | - | not installed ({e}) | |")
            continue
        voice = (engine.train_voices or engine.test_voices)[0]
        rtf = speed(lambda t, e=engine, v=voice: e.synthesize(t, v), lambda r: len(r[0]) / r[1])
        print(f"| {name} | {len(engine.train_voices)} | {len(engine.test_voices)} | {rtf:.1f} (voice {voice}) "
              f"| {engine.licence} |", flush=True)
    try:
        from harken.synth.warp import warp

        espeak = get_engine("espeak")
        rtf = speed(lambda t: (warp(espeak.synthesize(t, "en-us", sample_rate=16000)[0], 16000, 1.2, 1.1), 16000),
                    lambda r: len(r[0]) / r[1])
        print(f"| WORLD warp (pyworld) on espeak-ng, 16 kHz, incl. espeak-ng | - | - | {rtf:.1f} | MIT |")
    except EngineMissing as e:
        print(f"| WORLD warp | - | - | not installed ({e}) | |")


if __name__ == "__main__":
    main()
