"""Which voices of an engine a listener can understand: each says a few everyday sentences, pocketsphinx (a
recogniser trained on real speech, PyPI `pocketsphinx` with its bundled US English model) transcribes them, and
voices whose word error rate passes the bar are kept. harken's own shipped model cannot judge this: it knows
espeak-ng's voices only and fails on every other engine.

    python -m harken.synth.engines.screen kokoro --candidates     # every pack and blend: the table and the kept list
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from harken.synth.engines import get_engine
from harken.synth.engines.base import EngineMissing

SENTENCES = (
    "the weather was cold and the road was long",
    "she opened the letter and read it twice",
    "we walked along the river before dinner",
    "he said that the house on the hill was empty",
    "my brother bought a new car last summer",
    "please bring me the green book from the table",
)
# pocketsphinx's WER on the other engines' voices here: hibari 4%, piper joe 10%, pico 22% and 29% (bench/RESULTS.md);
# Kokoro's unclear packs and blends score 55-76%
MAX_WER = 0.35


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between word lists."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


class Listener:
    """pocketsphinx on 16 kHz float audio."""

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise EngineMissing("screening voices needs pocketsphinx: pip install pocketsphinx") from None
        self._decoder = Decoder(samprate=16000, loglevel="FATAL")

    def __call__(self, audio: np.ndarray) -> str:
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp else ""


def screen(engine_name: str, voices: list[str], listener: Listener, engine=None) -> dict[str, float]:
    """Each voice's WER on SENTENCES (greedy pocketsphinx, default settings)."""
    engine = engine or get_engine(engine_name)
    scores = {}
    for voice in voices:
        errors = words = 0
        for text in SENTENCES:
            audio, _ = engine.synthesize(text, voice, sample_rate=16000)
            errors += word_errors(text.split(), listener(audio).split())
            words += len(text.split())
        scores[voice] = errors / words
    return scores


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("engine")
    p.add_argument("--voices", nargs="+", help="voices to screen (default: the engine's own)")
    p.add_argument("--candidates", action="store_true", help="kokoro: every pack and two-pack blend")
    args = p.parse_args(argv)
    engine = None
    if args.candidates:
        from harken.synth.engines.kokoro import Kokoro, candidates

        engine, voices = Kokoro(screened=False), list(candidates())
    else:
        voices = args.voices or list(get_engine(args.engine).voices)
    listener = Listener()
    print(f"| {args.engine} voice | pocketsphinx WER ({len(SENTENCES)} sentences) | kept (<= {MAX_WER:.0%}) | s |")
    print("|---|---|---|---|")
    for voice in voices:
        start = time.time()
        wer = screen(args.engine, [voice], listener, engine)[voice]
        print(f"| {voice} | {wer:.1%} | {'yes' if wer <= MAX_WER else 'no'} | {time.time() - start:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
