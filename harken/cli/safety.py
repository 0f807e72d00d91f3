"""What every command that reads many inputs and writes results shares, so none destroys data or loses work:

- outputs never land on an input (refused even with --overwrite) and replace an existing file only with
  --overwrite;
- results stream to `<output>.partial`, flushed per record, renamed to `<output>` when the run ends; an
  interrupted or crashed run leaves the finished records in the `.partial` file;
- each bad item is reported as `manifest:line: why` (or `file: why`) on stderr; `--on-error skip` goes on,
  `stop` ends the run, and either way the exit status is 1 if any item failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_on_error(p: argparse.ArgumentParser, default: str = "skip") -> None:
    p.add_argument("--on-error", choices=["skip", "stop"], default=default,
                   help="an unreadable item: report it and go on (skip) or end the run (stop); either way the "
                        f"exit status is 1 (default: {default})")


def check_device(name: str) -> str:
    """A torch device this machine has, or a ValueError naming the choices."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"--device {name!r}: unknown device; use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"--device {name}: no such CUDA device on this machine (use --device cpu)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {name}: MPS is not available on this machine (use --device cpu)")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {name}: harken runs on cpu, cuda or mps")
    return name


def plain_warnings() -> None:
    """Warnings about the user's data (a truncated file) print as one line, not as a source location."""
    import warnings

    from harken.audio.io import AudioWarning

    shown = warnings.formatwarning

    def fmt(message, category, filename, lineno, line=None):
        if issubclass(category, AudioWarning):
            return f"warning: {message}\n"
        return shown(message, category, filename, lineno, line)

    warnings.formatwarning = fmt


def option_files(args: argparse.Namespace) -> list[str]:
    """The files options read (--model, --lm, --hotwords @FILE): inputs too, which no output may replace."""
    found = [getattr(args, "model", None), getattr(args, "lm", None)]
    hotwords = getattr(args, "hotwords", None)
    if hotwords and hotwords.startswith("@"):
        found.append(hotwords[1:])
    return [f for f in found if f]


def _file_id(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def protect_outputs(outputs: Iterable[Path], inputs: Iterable[str | Path], overwrite: bool, hint: str) -> None:
    """Refuse outputs that are inputs (always) or existing files (unless `overwrite`); `hint` says what to
    change instead, e.g. 'another --output-dir'."""
    outputs = list(outputs)
    folders = [p for p in outputs if p.is_dir()]
    if folders:
        raise ValueError(f"{folders[0]} is a folder; give a file name ({hint})")
    existing = {_file_id(p): p for p in outputs if os.path.lexists(p)}
    existing.pop(None, None)
    if not existing:
        return
    for src in inputs:
        hit = existing.get(_file_id(src))
        if hit is not None:
            raise ValueError(f"{hit} is one of the inputs ({src}); harken never writes onto its inputs: {hint}")
    if not overwrite:
        first = next(iter(existing.values()))
        raise ValueError(f"{first} exists ({len(existing)} output file(s) would be replaced): give --overwrite or "
                         f"{hint}")


def protect_output(output: str | Path, inputs: Iterable[str | Path], overwrite: bool) -> None:
    """`protect_outputs` for an --output file and the `.partial` file it grows in."""
    out = Path(output)
    protect_outputs([out, partial_of(out)], inputs, overwrite, "choose another --output")


def partial_of(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


class StreamedOutput:
    """Records appended to `<path>.partial` and flushed one by one; renamed to `path` by `finish()`. Used as
    a context manager, an exception (Ctrl-C included) leaves the `.partial` file and says so on stderr."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.partial = partial_of(self.path)
        self.count = 0
        self.file: IO[str] | None = None

    def __enter__(self) -> StreamedOutput:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = self.partial.open("w", encoding="utf-8")
        return self

    def write(self, record: str) -> None:
        assert self.file is not None
        self.file.write(record)
        self.file.flush()
        self.count += 1

    def __exit__(self, kind, value, tb) -> None:
        assert self.file is not None
        self.file.close()
        if kind is None:
            os.replace(self.partial, self.path)
        elif not self.count:
            self.partial.unlink(missing_ok=True)
        else:
            print(f"harken: stopped; the {self.count} finished record(s) are in {self.partial}", file=sys.stderr)


class ItemErrors:
    """The on_error callback of `decode_each`: prints each failure, counts them, says whether to go on."""

    def __init__(self, mode: str = "skip"):
        self.mode, self.count = mode, 0

    def __call__(self, inp, message: str) -> bool:
        self.count += 1
        print(message, file=sys.stderr, flush=True)
        if self.mode == "stop":
            print("harken: stopping at the first failure (--on-error stop)", file=sys.stderr)
        return self.mode == "skip"

    def exit_status(self, done: int) -> int:
        """1 if anything failed, with a one-line tally on stderr; 0 otherwise."""
        if not self.count:
            return 0
        print(f"harken: {self.count} item(s) failed, {done} done", file=sys.stderr)
        return 1
