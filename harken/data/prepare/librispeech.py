"""LibriSpeech: `<split>/<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac` and `<speaker>-<chapter>.trans.txt`.

One manifest per split folder found (train-clean-100, dev-clean, ...); flac is referenced in place and
transcripts are lower-cased, as NeMo's get_librispeech_data.py does.
"""

from __future__ import annotations

from pathlib import Path

from harken.audio.io import audio_info
from harken.data.prepare.common import entry, progress_bar, text_lines, write_splits


def prepare(root: Path, dst: Path, progress: bool = True) -> dict[str, Path]:
    if (root / "LibriSpeech").is_dir():
        root = root / "LibriSpeech"
    transcripts = sorted(root.glob("*/*/*/*.trans.txt"))
    if not transcripts:
        raise FileNotFoundError(f"{root}: no LibriSpeech */speaker/chapter/*.trans.txt files found")
    splits: dict[str, list] = {}
    for trans in progress_bar(transcripts, "librispeech", progress):
        split = trans.parents[2].name
        for lineno, line in enumerate(text_lines(trans), 1):
            if not line.strip():
                continue
            utt, _, text = line.partition(" ")
            flac = trans.parent / f"{utt}.flac"
            if not flac.exists():
                raise FileNotFoundError(f"{trans}:{lineno}: {flac.name} is listed but missing")
            splits.setdefault(split, []).append(
                entry(flac, text.strip().lower(), audio_info(flac)[2], speaker=utt.split("-")[0]))
    return write_splits(dst, splits)
