"""Limits that keep bad input from eating memory or time, each refused up front with a message that names
the environment variable raising it. Defaults fit every real model and recording harken knows of."""

from __future__ import annotations

import os
import stat
from pathlib import Path

# name -> (environment variable, default, what it bounds)
LIMITS: dict[str, tuple[str, float, str]] = {
    "audio_seconds": ("HARKEN_MAX_AUDIO_SECONDS", 4 * 3600, "seconds of audio read in one piece"),
    "min_sample_rate": ("HARKEN_MIN_SAMPLE_RATE", 1000, "the lowest sample rate of an audio file, Hz"),
    "max_sample_rate": ("HARKEN_MAX_SAMPLE_RATE", 768000, "the highest sample rate of an audio file, Hz"),
    "channels": ("HARKEN_MAX_CHANNELS", 256, "channels of an audio file or array"),
    "line_bytes": ("HARKEN_MAX_LINE_BYTES", 16 << 20, "bytes in one manifest line or text file"),
    "config_bytes": ("HARKEN_MAX_CONFIG_BYTES", 16 << 20, "bytes of a YAML config"),
    "config_values": ("HARKEN_MAX_CONFIG_VALUES", 1_000_000, "values in a config once aliases are expanded"),
    "archive_bytes": ("HARKEN_MAX_ARCHIVE_BYTES", 8 << 30, "bytes unpacked from one .nemo archive"),
    "archive_ratio": ("HARKEN_MAX_ARCHIVE_RATIO", 20, "unpacked size / file size of a compressed archive"),
    "model_params": ("HARKEN_MAX_PARAMS", 2e9, "parameters (and buffers) a model config may ask for"),
    "model_repeats": ("HARKEN_MAX_LAYERS", 1000, "layers, blocks or repeats a model config may ask for"),
    "extract_bytes": ("HARKEN_MAX_EXTRACT_BYTES", 1 << 40, "bytes extracted from one corpus archive"),
}


class LimitError(ValueError):
    pass


def limit(name: str) -> float:
    """The limit's value: its environment variable if set (a number), else the default."""
    env, default, _ = LIMITS[name]
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise LimitError(f"{env}={raw!r}: expected a number") from None


def over(name: str, what: str, value: float) -> LimitError:
    """The error for `value` over (or, for minimums, under) limit `name`, saying how to change it."""
    env, _, meaning = LIMITS[name]
    bound = limit(name)
    side = "under" if name.startswith("min_") else "over"
    return LimitError(f"{what}: {_num(value)} is {side} the limit of {_num(bound)} ({meaning}; set {env} to change it)")


def _num(x: float) -> str:
    if isinstance(x, float):
        return str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:.3g}"
    return str(x) if abs(x) < 10**15 else f"about 1e{len(str(abs(x))) - 1}"


def regular_file(path: str | Path, kind: str = "file") -> Path:
    """`path` if it is a regular file: a FIFO or device would block or never end, a folder is not a file."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: {kind} not found") from None
    except OSError as e:
        raise OSError(f"{path}: cannot read the {kind} ({e.strerror})") from None
    article = "an" if kind[:1] in "aeiou" else "a"
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{path}: is a folder; expected {article} {kind}")
    if not stat.S_ISREG(mode):
        raise OSError(f"{path}: not a regular file (a FIFO, socket or device); expected {article} {kind}")
    return path
