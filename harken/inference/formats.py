"""Transcript files: plain text, verbose JSON, SRT/WebVTT subtitles, whisper-style TSV and NIST CTM.

Subtitles are cut from word timings (see `subtitle_cues` for the rules) so that every cue is readable on screen
and in sync; a transcript without word timings falls back to one cue per segment.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from harken.core.atomic import atomic_write_text
from harken.inference.results import Transcript, Word

FORMATS = ("txt", "json", "srt", "vtt", "tsv", "ctm")
CUE_OPTIONS = ("max_chars", "max_lines", "max_duration", "max_gap")
MIN_CUE = 0.2  # seconds a zero-length cue is stretched to, so players show it at all
_SENTENCE_END = re.compile(r"[.!?]['\"\u2019\u201d)\]\u00bb]*$")


@dataclass
class Cue:
    """One subtitle: shown from `start` to `end` seconds, as `lines`."""

    start: float
    end: float
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _greedy(words: list[str], width: int) -> list[str]:
    """Fill lines up to `width` characters; a word wider than that gets a line of its own."""
    lines: list[str] = []
    for w in words:
        if lines and len(lines[-1]) + 1 + len(w) <= width:
            lines[-1] += " " + w
        else:
            lines.append(w)
    return lines


def wrap_lines(words: list[str], max_chars: int) -> list[str]:
    """Break at word boundaries into the fewest lines of `max_chars`, then even their lengths out.

    Balanced lines are easier to read than a full line over a stub; the narrowest width that still needs no
    more lines than the greedy fill gives that balance.
    """
    words = [w for w in words if w]
    lines = _greedy(words, max_chars)
    if len(lines) <= 1:
        return lines
    for width in range(max(len(w) for w in words), max_chars):
        narrow = _greedy(words, width)
        if len(narrow) <= len(lines):
            return narrow
    return lines


def _fits(words: list[str], max_chars: int, max_lines: int) -> bool:
    return len(_greedy(words, max_chars)) <= max_lines


def _ends_sentence(word: str) -> bool:
    return bool(_SENTENCE_END.search(word.strip()))


def _settle(cues: list[Cue], max_duration: float) -> list[Cue]:
    """Make times whole milliseconds, ordered, non-overlapping, with end > start and at most `max_duration`."""
    ms = [[round(max(c.start, 0.0) * 1000), round(max(c.end, 0.0) * 1000)] for c in cues]
    longest = round(max_duration * 1000) if math.isfinite(max_duration) else math.inf
    least = max(1, round(MIN_CUE * 1000))
    for i, cur in enumerate(ms):
        if i:
            cur[0] = max(cur[0], ms[i - 1][1])
        nxt = ms[i + 1][0] if i + 1 < len(ms) else math.inf
        cur[1] = min(cur[1], cur[0] + longest)
        if nxt > cur[0]:
            cur[1] = min(cur[1], nxt)
        if cur[1] <= cur[0]:  # zero length: stretch it, but into the next cue only when that starts here too
            cur[1] = cur[0] + least if nxt <= cur[0] else min(cur[0] + least, nxt)
    return [Cue(s / 1000, e / 1000, c.lines) for (s, e), c in zip(ms, cues)]


def subtitle_cues(
    words: list[Word], max_chars: int = 42, max_lines: int = 2, max_duration: float = 7.0, max_gap: float = 1.5
) -> list[Cue]:
    """Group consecutive words into subtitle cues, following common broadcast practice.

    - A cue holds at most `max_lines` lines of at most `max_chars` characters, broken at word boundaries and
      balanced; a single word longer than `max_chars` gets a line of its own.
    - A cue lasts at most `max_duration` seconds: a new cue starts when the next word would end later than that;
      a single word longer than that stays alone, its end clipped to start + `max_duration`.
    - A new cue starts at a pause longer than `max_gap` seconds, and after a word ending a sentence (. ! ?)
      once the cue holds at least a third of a line, so sentences start on a fresh screen.
    - Cues never overlap (an end is clipped to the next cue's start) and always end after they start
      (a zero-length cue gets `MIN_CUE` seconds, never reaching into the next cue); times are whole milliseconds.
    """
    groups: list[list[Word]] = []
    for w in words:
        if not w.word.strip():
            continue
        cur = groups[-1] if groups else None
        if cur is not None:
            texts = [x.word.strip() for x in cur]
            split = (
                w.start - cur[-1].end > max_gap
                or (_ends_sentence(texts[-1]) and len(" ".join(texts)) >= max_chars // 3)
                or w.end - cur[0].start > max_duration
                or not _fits([*texts, w.word.strip()], max_chars, max_lines)
            )
            if not split:
                cur.append(w)
                continue
        groups.append([w])
    cues = [Cue(g[0].start, g[-1].end, wrap_lines([x.word.strip() for x in g], max_chars)) for g in groups]
    return _settle(cues, max_duration)


def transcript_cues(t: Transcript, **options) -> list[Cue]:
    """Cues from the words, or one per segment when the transcript has no word timings."""
    words = t.words
    if words:
        return subtitle_cues(words, **options)
    max_chars = options.get("max_chars", 42)
    cues = [Cue(s.start, s.end, wrap_lines(s.text.split(), max_chars)) for s in t.segments if s.text.strip()]
    return _settle(cues, math.inf)


def _timestamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _srt(cues: list[Cue]) -> str:
    return "".join(
        f"{i}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n{c.text}\n\n" for i, c in enumerate(cues, 1)
    )


def _vtt_escape(line: str) -> str:
    # WebVTT cue text is markup: a bare & or < would start an entity or a tag.
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt(cues: list[Cue]) -> str:
    body = "".join(
        f"{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}\n" + "\n".join(map(_vtt_escape, c.lines)) + "\n\n"
        for c in cues
    )
    return "WEBVTT\n\n" + body


def _clean(text: str) -> str:
    return " ".join(text.split())


def _tsv(t: Transcript) -> str:
    """Whisper's layout: integer milliseconds, so spreadsheet tools read the times as numbers."""
    rows = [(s.start, s.end, s.text) for s in t.segments]
    if not rows and t.text.strip():
        rows = [(0.0, t.duration, t.text)]
    body = "".join(f"{round(1000 * a)}\t{round(1000 * b)}\t{_clean(x)}\n" for a, b, x in rows if _clean(x))
    return "start\tend\ttext\n" + body


def _stem(source: str) -> str:
    """The file stem of a source; in-memory audio ("<array N>") has none, and gets "" here."""
    if not source or source.startswith("<"):
        return ""
    return Path(source).stem


def _ctm(t: Transcript) -> str:
    """NIST CTM: `utt channel start duration word confidence`, one line a word, fields split on spaces."""
    utt = re.sub(r"\s+", "_", _stem(t.source).strip()) or "utt"
    lines = []
    for w in t.words:
        word = "_".join(w.word.split())
        if word:
            dur = max(0.0, w.end - w.start)
            lines.append(f"{utt} 1 {w.start:.3f} {dur:.3f} {word} {w.confidence:.3f}\n")
    return "".join(lines)


def format_transcript(t: Transcript, fmt: str, **options) -> str:
    """The body of a `fmt` file for `t`; `options` are `subtitle_cues`' limits (ignored by other formats)."""
    unknown = set(options) - set(CUE_OPTIONS)
    if unknown:
        raise TypeError(f"unknown format option(s) {sorted(unknown)}; known: {', '.join(CUE_OPTIONS)}")
    fmt = fmt.lower().lstrip(".")
    if fmt == "txt":
        return t.text.strip() + "\n"
    if fmt == "json":
        return json.dumps(t.to_dict(), ensure_ascii=False, indent=2) + "\n"
    if fmt == "srt":
        return _srt(transcript_cues(t, **options))
    if fmt == "vtt":
        return _vtt(transcript_cues(t, **options))
    if fmt == "tsv":
        return _tsv(t)
    if fmt == "ctm":
        return _ctm(t)
    raise ValueError(f"unknown output format {fmt!r}; choose one of: {', '.join(FORMATS)}")


def output_path(source: str, fmt: str, output_dir: str | Path, used: set[str]) -> Path:
    """The output file for one input: `<stem>.<fmt>` in `output_dir`, unique among the paths in `used`.

    Two inputs with one stem (a/x.wav, b/x.wav) get x.txt and x-1.txt, since otherwise one would silently
    overwrite the other; in-memory audio is named by its index ("<array 3>" -> array-3). The path is never
    the input file itself. `used` holds case-folded paths (case-insensitive file systems) and is updated.
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    stem = _stem(source)
    if not stem:
        digits = re.findall(r"\d+", source)
        stem = f"array-{digits[0] if digits else len(used)}"
    output_dir = Path(output_dir)
    src = str(Path(source).resolve()).casefold() if _stem(source) else None
    n = 0
    while True:
        path = output_dir / (f"{stem}.{fmt}" if n == 0 else f"{stem}-{n}.{fmt}")
        key = str(path.resolve()).casefold()
        if key not in used and key != src:
            used.add(key)
            return path
        n += 1


def write_transcript(t: Transcript, fmt: str, path: str | Path, **options) -> Path:
    """Write `t` as `fmt` to `path` atomically, so a reader never sees half a file."""
    return atomic_write_text(path, format_transcript(t, fmt, **options))
