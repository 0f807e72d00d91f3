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
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                yield parse_line(line, path, lineno)


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
    if isinstance(offset, bool) or not isinstance(offset, (int, float)) or offset < 0:
        raise ManifestError(f"{where}: 'offset' must be a non-negative number, got {offset!r}")
    text = row.get("text")
    if text is None and row.get("text_filepath"):
        text_path = _resolve(row["text_filepath"], path)
        try:
            text = Path(text_path).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ManifestError(f"{where}: cannot read text_filepath {text_path} ({e.strerror})") from None
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise ManifestError(f"{where}: 'text' must be a string, got {type(text).__name__}")
    extra = {k: v for k, v in row.items() if k not in _KNOWN}
    return ManifestEntry(_resolve(audio, path), float(duration), text, float(offset), extra, where)


def _resolve(p: str, manifest: Path) -> str:
    q = Path(p).expanduser()
    return str(q if q.is_absolute() else (manifest.parent / q).resolve())
