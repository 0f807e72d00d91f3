"""Which engine says each planned utterance, and which training utterances get a new speaker by warping.

The corpus plans texts, espeak-ng voices and prosody first (corpus.plan, unchanged); this module then hands
each utterance to an engine by the requested shares and, for another engine than espeak-ng, draws that engine's
voice and prosody. Every draw comes from a stream keyed by (seed, split, index) alone, so the choice for one
utterance does not depend on the others, and a corpus of espeak-ng alone is exactly what it was before engines
existed. Held-out voices: the test split draws only an engine's test voices, training and validation only its
training voices; an engine without training voices (Piper: the unseen synthesizer) never says a training or
validation utterance, and one without test voices (hibari) never a test utterance."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from harken.synth.engines import Engine

ENGINE_STREAM, WARP_STREAM = 13, 17  # per-item stream tags (corpus.py uses 7 and 11)
F0_RANGE, FORMANT_RANGE = (0.7, 1.45), (0.87, 1.15)  # warp factors, drawn log-uniformly


def assign_engines(items: list, seed: int, shares: dict[str, float], engines: dict[str, Engine],
                   splits: tuple[str, ...]) -> list:
    """Items re-voiced by engine shares (espeak-ng keeps the plan's own voice and prosody)."""
    if set(shares) == {"espeak"}:
        return items
    names = sorted(shares)  # the order the shares were given in changes nothing

    def assigned(item):
        test = item.split == "test"
        pools = {n: engines[n].test_voices if test else engines[n].train_voices for n in names}
        eligible = [n for n in names if pools[n]]
        if not eligible:
            raise ValueError(f"engines {', '.join(names)}: none has {'held-out' if test else 'training'} voices "
                             f"for the {item.split} split (Piper is never trained on: use --train 0 --val 0)")
        rng = np.random.default_rng([seed, splits.index(item.split), item.index, ENGINE_STREAM])
        p = np.array([shares[n] for n in eligible])
        name = eligible[int(rng.choice(len(eligible), p=p / p.sum()))]
        if name == "espeak":
            return item
        engine, pool = engines[name], pools[name]
        voice = pool[int(rng.integers(len(pool)))]
        speed = 100 if test else round(100 * rng.uniform(*engine.speed_range))
        pitch = 100 if test else round(100 * rng.uniform(*engine.pitch_range))
        return replace(item, engine=name, voice=voice, speed=speed, pitch=pitch, amplitude=100, vowel_shift=0.0,
                       chain="")

    return [assigned(it) for it in items]


def assign_warps(items: list, seed: int, share: float, splits: tuple[str, ...]) -> list:
    """`share` of the training and validation items get a warped speaker (pitch and vocal-tract length);
    the test split keeps its voices as they are."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"warp={share}: a share, between 0 and 1")
    if share == 0:
        return items

    def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
        return round(math.exp(rng.uniform(math.log(lo), math.log(hi))), 3)

    def warped(item):
        rng = np.random.default_rng([seed, splits.index(item.split), item.index, WARP_STREAM])
        if item.split == "test" or rng.random() >= share:
            return item
        return replace(item, warp_f0=log_uniform(rng, *F0_RANGE), warp_formant=log_uniform(rng, *FORMANT_RANGE))

    return [warped(it) for it in items]


def voice_label(item) -> str:
    """The manifest's voice: espeak-ng's as always ("en-us+m3"), others' qualified ("pico:en-GB")."""
    return item.voice if item.engine == "espeak" else f"{item.engine}:{item.voice}"
