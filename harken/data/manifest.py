"""NeMo JSON-lines manifests: one utterance per line.

    {"audio_filepath": "a.wav", "duration": 3.2, "text": "hello world", "offset": 0.0}

Relative audio paths are resolved against the manifest's folder (as NeMo does). Every error names
the manifest and the line, because a broken line 48213 is otherwise a day's hunt.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harken.core.atomic import atomic_write_text
from harken.core.limits import limit, over, regular_file

_KNOWN = {"audio_filepath", "duration", "text", "offset", "text_filepath"}


class ManifestError(ValueError):
    pass


@dataclass
class ManifestEntry:
    audio_filepath: str
    duration: float
    text: str = ""
    offset: float = 0.0
    extra: dict = field(default_factory=dict)  # any other keys, kept so rewritten manifests lose nothing
    where: str = field(default="", compare=False)  # "manifest:line" it came from, for error messages

    def to_dict(self) -> dict:
        row = {"audio_filepath": self.audio_filepath, "duration": self.duration, "text": self.text}
        if self.offset:
            row["offset"] = self.offset
        row.update(self.extra)
        return row


def iter_manifest(path: str | Path) -> Iterator[ManifestEntry]:
    path = Path(path)
    for lineno, line in read_lines(path, "manifest"):
        if line.strip():
            yield parse_line(line, path, lineno)


def read_lines(path: str | Path, kind: str = "manifest") -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 text file, a line at a time. A folder, FIFO or device, a line over
    HARKEN_MAX_LINE_BYTES and bytes that are not UTF-8 are errors naming the file (and the line)."""
    for lineno, raw in raw_lines(path, kind):
        yield lineno, decode_utf8(raw, f"{path}:{lineno}", first=lineno == 1)


def raw_lines(path: str | Path, kind: str = "manifest") -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of a regular file, a line at a time, none longer than HARKEN_MAX_LINE_BYTES."""
    path = Path(path)
    try:
        regular_file(path, kind)
    except OSError as e:
        raise ManifestError(str(e)) from None
    most = int(limit("line_bytes"))
    with path.open("rb") as f:
        for lineno, raw in enumerate(iter(lambda: f.readline(most + 1), b""), 1):
            if len(raw) > most and not raw.endswith(b"\n"):
                raise ManifestError(str(over("line_bytes", f"{path}:{lineno}: line length", len(raw))))
            yield lineno, raw


def decode_utf8(raw: bytes, where: str, first: bool = False) -> str:
    """Text of `raw`, or a ManifestError giving the column of the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8-sig" if first else "utf-8")
    except UnicodeDecodeError as e:
        raise ManifestError(f"{where}: not UTF-8 text (byte {raw[e.start]:#04x} at column {e.start + 1}); "
                            "convert the file to UTF-8") from None


def read_manifest(
    path: str | Path, min_duration: float | None = None, max_duration: float | None = None
) -> list[ManifestEntry]:
    """All entries of a manifest, keeping those within [min_duration, max_duration]."""
    lo = min_duration if min_duration is not None else -math.inf
    hi = max_duration if max_duration is not None else math.inf
    return [e for e in iter_manifest(path) if lo <= e.duration <= hi]


def write_manifest(path: str | Path, entries: Iterable[ManifestEntry | dict]) -> Path:
    """Write entries (dataclasses or plain dicts) atomically; returns the path."""
    lines = [json.dumps(e.to_dict() if isinstance(e, ManifestEntry) else e, ensure_ascii=False) for e in entries]
    return atomic_write_text(path, "".join(line + "\n" for line in lines))


def parse_line(line: str, path: Path, lineno: int) -> ManifestEntry:
    where = f"{path}:{lineno}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise ManifestError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
    except RecursionError:
        raise ManifestError(f"{where}: JSON nested too deeply") from None
    if not isinstance(row, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(row).__name__}")
    audio = row.get("audio_filepath")
    if not isinstance(audio, str) or not audio:
        raise ManifestError(f"{where}: missing 'audio_filepath'")
    duration = row.get("duration")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not math.isfinite(duration) \
            or duration < 0:
        raise ManifestError(f"{where}: 'duration' must be a non-negative number, got {duration!r}")
    offset = row.get("offset", 0.0) or 0.0
    if isinstance(offset, bool) or not isinstance(offset, (int, float)) or not math.isfinite(offset) or offset < 0:
        raise ManifestError(f"{where}: 'offset' must be a non-negative number, got {offset!r}")
    text = row.get("text")
    if text is None and row.get("text_filepath"):
        text = _read_text_file(row["text_filepath"], path, where)
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise ManifestError(f"{where}: 'text' must be a string, got {type(text).__name__}")
    extra = {k: v for k, v in row.items() if k not in _KNOWN}
    return ManifestEntry(_resolve(audio, path), float(duration), text, float(offset), extra, where)


def _read_text_file(name, manifest: Path, where: str) -> str:
    """A row's `text_filepath`: a regular UTF-8 file of at most HARKEN_MAX_LINE_BYTES."""
    if not isinstance(name, str):
        raise ManifestError(f"{where}: 'text_filepath' must be a string, got {type(name).__name__}")
    text_path = Path(_resolve(name, manifest))
    try:
        size = regular_file(text_path, "text_filepath").stat().st_size
        if size > limit("line_bytes"):
            raise ManifestError(str(over("line_bytes", f"{where}: text_filepath {text_path} size", size)))
        raw = text_path.read_bytes()
    except OSError as e:
        raise ManifestError(f"{where}: cannot read text_filepath {text_path} ({e.strerror or e})") from None
    return decode_utf8(raw, f"{where}: text_filepath {text_path}", first=True).strip()


def _resolve(p: str, manifest: Path) -> str:
    q = Path(p).expanduser()
    return str(q if q.is_absolute() else (manifest.parent / q).resolve())
