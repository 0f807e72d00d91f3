"""`harken data check`: find what is wrong with a manifest before a training run finds it for you.

Every problem is reported as `manifest:line: ...`. Problems that make a row unusable (bad JSON, missing
or unreadable audio, empty text, characters outside the labels, duplicates) are errors; a wrong sample
rate or channel count is a warning (harken resamples and mixes down, but it costs time). `fix()` writes a
cleaned copy (errors dropped, durations corrected from the audio) and never touches the original.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harken.audio.io import AudioError, audio_info
from harken.data.manifest import ManifestError, decode_utf8, parse_line, raw_lines, write_manifest
from harken.text.char_tokenizer import CharTokenizer

DURATION_TOLERANCE = 0.1  # seconds


@dataclass
class Problem:
    line: int
    severity: str  # "error" | "warning"
    message: str


@dataclass
class CheckReport:
    manifest: Path
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    hours: float = 0.0
    speakers: set = field(default_factory=set)
    durations: list[float] = field(default_factory=list)
    characters: Counter = field(default_factory=Counter)
    clean: list[dict] = field(default_factory=list)  # usable rows, durations corrected
    audio_files: set[str] = field(default_factory=set)  # every row's audio, which --fix must never replace

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def lines(self) -> list[str]:
        return [f"{self.manifest}{f':{p.line}' if p.line else ''}: {p.severity}: {p.message}" for p in self.problems]

    def summary(self) -> str:
        kinds = Counter(p.message.split(":")[0].split(" (")[0] for p in self.problems)
        out = [f"{self.manifest}: {self.rows} rows, {len(self.clean)} usable, {self.hours:.3f} h, "
               f"{len(self.speakers) or 'unknown'} speakers; {len(self.errors)} errors, "
               f"{len(self.problems) - len(self.errors)} warnings"]
        out += [f"  {n:6d}  {kind}" for kind, n in kinds.most_common()]
        out.append("duration histogram (s):")
        out += _histogram(self.durations)
        out.append("characters: " + " ".join(f"{c!r}:{n}" for c, n in self.characters.most_common(40)))
        return "\n".join(out)


def check_manifest(path: str | Path, labels: list[str] | None = None, sample_rate: int | None = None,
                   progress: bool = False) -> CheckReport:
    path = Path(path)
    report = CheckReport(path)
    seen: dict[tuple, int] = {}
    tokenizer = CharTokenizer(labels) if labels else None
    lines = raw_lines(path, "manifest")
    if progress:
        from tqdm import tqdm

        lines = tqdm(lines, desc="check", unit="row")
    for lineno, raw in lines:
        if not raw.strip():
            continue
        report.rows += 1
        try:
            line = decode_utf8(raw, f"{path}:{lineno}", first=lineno == 1)
        except ManifestError as e:
            report.problems.append(Problem(lineno, "error", "malformed row: " + str(e).split(": ", 1)[1]))
            continue
        report.problems += _check_row(line, path, lineno, tokenizer, sample_rate, seen, report)
    if not report.rows:
        report.problems.append(Problem(0, "error", "empty manifest: no rows"))
    return report


def _check_row(line, path, lineno, tokenizer, sample_rate, seen, report) -> list[Problem]:
    out: list[Problem] = []

    def problem(severity: str, message: str) -> None:
        out.append(Problem(lineno, severity, message))

    try:
        entry = parse_line(line, path, lineno)
    except ManifestError as e:
        problem("error", "malformed row: " + str(e).split(": ", 1)[1])
        return out
    row = json.loads(line)
    report.audio_files.add(entry.audio_filepath)
    key = (entry.audio_filepath, entry.offset)
    if key in seen:
        problem("error", f"duplicate of line {seen[key]} ({Path(entry.audio_filepath).name})")
    seen.setdefault(key, lineno)
    if not entry.text.strip():
        problem("error", "empty text")
    if tokenizer is not None:
        unknown = tokenizer.out_of_vocabulary(entry.text)
        if unknown:
            problem("error", f"characters outside the labels: {''.join(sorted(unknown))!r}")
    report.characters.update(entry.text)
    audio = Path(entry.audio_filepath)
    if not audio.exists():
        problem("error", f"audio missing: {audio}")
        return out
    try:
        samplerate, channels, seconds = audio_info(audio)
    except AudioError as e:  # soundfile's errors vary by libsndfile version
        problem("error", f"audio unreadable: {audio} ({str(e).removeprefix(f'{audio}: ').splitlines()[0][:120]})")
        return out
    actual = seconds - entry.offset
    if entry.duration > actual + DURATION_TOLERANCE or (not entry.offset and abs(actual - entry.duration) >
                                                       DURATION_TOLERANCE):
        problem("error", f"duration mismatch: manifest {entry.duration:.2f} s, audio {actual:.2f} s")
    if sample_rate and samplerate != sample_rate:
        problem("warning", f"sample rate {samplerate} Hz (model wants {sample_rate})")
    if channels != 1:
        problem("warning", f"{channels} channels (will be mixed down)")
    if not any(p.severity == "error" and not p.message.startswith("duration mismatch") for p in out):
        fixed = dict(row)
        if not entry.offset:
            fixed["duration"] = round(actual, 3)
        report.clean.append(fixed)
        report.hours += fixed["duration"] / 3600
        report.durations.append(fixed["duration"])
        for k in ("speaker", "speaker_id", "spk"):
            if k in row:
                report.speakers.add(row[k])
    return out


def fix(report: CheckReport, out: str | Path, overwrite: bool = False) -> Path:
    """Write the clean rows to `out`: never onto the manifest or its audio, onto another file only if
    `overwrite`."""
    out = fix_target(out, report.manifest, overwrite)
    if out.exists() and any(out.samefile(a) for a in report.audio_files if Path(a).exists()):
        raise ValueError(f"--fix {out}: that is an audio file of the manifest; refusing to write onto it")
    return write_manifest(out, report.clean)


def fix_target(out: str | Path, manifest: str | Path, overwrite: bool = False) -> Path:
    """`out` if a cleaned manifest may be written there (checked before the work, so a refusal costs nothing)."""
    out, manifest = Path(out), Path(manifest)
    if out.resolve() == manifest.resolve() or (out.exists() and manifest.exists() and out.samefile(manifest)):
        raise ValueError(f"--fix {out}: refusing to overwrite the manifest being checked")
    if out.is_dir():
        raise ValueError(f"--fix {out}: is a folder; give the file name of the cleaned manifest")
    if out.exists() and not overwrite:
        raise ValueError(f"--fix {out}: the file exists; give --overwrite to replace it, or another name")
    return out


def _histogram(values: list[float], bins: int = 8, width: int = 40) -> list[str]:
    if not values:
        return ["  (no usable rows)"]
    lo, hi = min(values), max(values)
    step = (hi - lo) / bins or 1.0
    counts = Counter(min(int((v - lo) / step), bins - 1) for v in values)
    top = max(counts.values())
    return [f"  {lo + i * step:7.2f}-{lo + (i + 1) * step:7.2f} {counts.get(i, 0):6d} "
            + "#" * round(width * counts.get(i, 0) / top) for i in range(bins)]
