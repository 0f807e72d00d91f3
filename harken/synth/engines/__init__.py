"""Speech engines by name. Each lives in its own module and is imported (and its model loaded) only when asked
for, once per process: the optional engines' packages come with `pip install 'harken[synth]'`."""

from __future__ import annotations

import importlib
import threading

from harken.synth.engines.base import EXTRA, Engine, EngineMissing

ENGINES = {  # name -> module:class
    "espeak": "harken.synth.engines.espeak:Espeak",
    "hibari": "harken.synth.engines.hibari:Hibari",
    "pico": "harken.synth.engines.pico:Pico",
    "kokoro": "harken.synth.engines.kokoro:Kokoro",
    "piper": "harken.synth.engines.piper:Piper",
}
_loaded: dict[str, Engine] = {}
_lock = threading.Lock()

__all__ = ["ENGINES", "EXTRA", "Engine", "EngineMissing", "get_engine", "parse_shares"]


def get_engine(name: str) -> Engine:
    """The engine called `name`, loaded once (EngineMissing, one line naming the extra, if its package is absent)."""
    if name not in ENGINES:
        raise ValueError(f"unknown speech engine {name!r}: use one of {', '.join(ENGINES)}")
    with _lock:
        if name not in _loaded:
            module, cls = ENGINES[name].split(":")
            _loaded[name] = getattr(importlib.import_module(module), cls)()
        return _loaded[name]


def parse_shares(spec: str) -> dict[str, float]:
    """"espeak:0.6,pico:0.2,kokoro" -> {"espeak": 0.6, "pico": 0.2, "kokoro": 0.2}: engines without a share split
    what the named shares leave (equally); the shares must add up to 1."""
    named, bare = {}, []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, share = part.partition(":")
        if name not in ENGINES:
            raise ValueError(f"--engines {spec!r}: unknown engine {name!r} (use {', '.join(ENGINES)})")
        if name in named or name in bare:
            raise ValueError(f"--engines {spec!r}: {name} named twice")
        if not share:
            bare.append(name)
            continue
        try:
            named[name] = float(share)
        except ValueError:
            raise ValueError(f"--engines {spec!r}: share {share!r} of {name} is not a number") from None
        if not 0 < named[name] <= 1:
            raise ValueError(f"--engines {spec!r}: share of {name} must be in (0, 1]")
    left = 1.0 - sum(named.values())
    if not named and not bare:
        raise ValueError("--engines: name at least one engine")
    if left < -1e-9 or (not bare and abs(left) > 1e-6) or (bare and left <= 1e-9):
        raise ValueError(f"--engines {spec!r}: shares must add up to 1 (they add up to {1 - left:g})")
    return named | {name: left / len(bare) for name in bare}
