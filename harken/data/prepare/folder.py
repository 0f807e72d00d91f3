"""A folder of audio files, each with a same-named `.txt` transcript beside it (any depth)."""

from __future__ import annotations

from pathlib import Path

from harken.data.prepare.common import entry, progress_bar, text_lines, write_splits

AUDIO = (".wav", ".flac", ".ogg", ".mp3")


def prepare(root: Path, dst: Path, progress: bool = True) -> dict[str, Path]:
    audio = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO and p.is_file())  # no FIFOs, folders
    rows, missing = [], []
    for path in progress_bar(audio, "folder", progress):
        txt = path.with_suffix(".txt")
        if not txt.exists():
            missing.append(path.name)
            continue
        rows.append(entry(path, " ".join(" ".join(text_lines(txt)).split())))
    if not rows:
        raise FileNotFoundError(f"{root}: no audio files with a same-named .txt transcript")
    if missing:
        print(f"skipped {len(missing)} audio files without a transcript (e.g. {', '.join(missing[:3])})")
    return write_splits(dst, {"all": rows})
