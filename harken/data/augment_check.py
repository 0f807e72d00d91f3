"""An `augmentor:` section (or `harken data perturb --spec`) checked before any audio is read: an unknown
option would fail on the first utterance (hours into a run), and some values ask for absurd memory (a room
that rings for 1e9 s is an impulse response of 1.6e13 samples; speed 1e-9 makes a second last 30 years).
Each perturbation is then tried once on a tenth of a second of noise, so any value it refuses is refused now.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from harken.augment.perturb import PERTURBATIONS, Augmentor

# option -> (lowest, highest) a perturbation may be given; wider ranges are no sound anyone records
BOUNDS: dict[str, tuple[float, float]] = {
    "prob": (0.0, 1.0), "min_rt60": (0.01, 10.0), "max_rt60": (0.01, 10.0), "min_rate": (0.1, 10.0),
    "max_rate": (0.1, 10.0), "speakers": (0, 20), "band_rate": (1000, 768000),
    "min_shift_ms": (-60000, 60000), "max_shift_ms": (-60000, 60000),
}
_NOT_OPTIONS = ("x", "sr", "rng", "others")


def check_augmentor(spec: Any, where: str) -> None:
    """ValueError naming `where.perturbation.option` for anything the perturbations would refuse or choke on."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a mapping of perturbation -> options, got {spec!r:.80}")
    for name, options in spec.items():
        if name not in PERTURBATIONS:
            raise ValueError(f"{where}.{name}: unknown perturbation; use one of {sorted(PERTURBATIONS)}")
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"{where}.{name}: expected a mapping of options, got {options!r:.80}")
        allowed = ["prob", *(p for p in inspect.signature(PERTURBATIONS[name]).parameters if p not in _NOT_OPTIONS)]
        for key, value in (options or {}).items():
            if key not in allowed:
                raise ValueError(f"{where}.{name}.{key}: not an option of {name} ({', '.join(allowed)})")
            if key == "color":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{where}.{name}.{key}: expected a number, got {value!r:.80}")
            if key == "speakers" and not isinstance(value, int):
                raise ValueError(f"{where}.{name}.{key}: expected a whole number, got {value!r:.80}")
            lo, hi = BOUNDS.get(key, (-math.inf, math.inf))
            if not lo <= value <= hi:
                raise ValueError(f"{where}.{name}.{key}: {value} is outside [{lo:g}, {hi:g}]")
        trial = {name: {**(options or {}), "prob": 1.0}}
        try:
            Augmentor(trial, seed=0)(np.random.default_rng(0).normal(0, 0.1, 1600).astype(np.float32), 16000)
        except (ValueError, TypeError, KeyError, ZeroDivisionError, IndexError) as e:
            raise ValueError(f"{where}.{name}: {type(e).__name__}: {e}") from None
