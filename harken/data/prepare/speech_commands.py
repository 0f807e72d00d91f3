"""Google Speech Commands v1/v2: `<word>/<file>.wav`, `validation_list.txt`, `testing_list.txt`,
`_background_noise_/*.wav`.

Label manifests (`label` per row) for train/val/test. `classes="10+2"` keeps yes/no/up/down/left/right/
on/off/stop/go, maps every other word to `unknown` and adds `silence` rows: 1 s windows of the background
noise recordings, referenced with offset/duration (no new files). `classes="all"` keeps every word.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harken.audio.io import audio_info
from harken.data.manifest import ManifestEntry
from harken.data.prepare.common import progress_bar, text_lines, write_splits

TEN = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


def prepare(root: Path, dst: Path, progress: bool = True, classes: str = "all", seed: int = 0) -> dict[str, Path]:
    if classes not in ("all", "10+2"):
        raise ValueError(f"classes={classes!r}: use 'all' or '10+2'")
    lists = {}
    for split, name in (("val", "validation_list.txt"), ("test", "testing_list.txt")):
        path = root / name
        if not path.exists():
            raise FileNotFoundError(f"{root}: not a Speech Commands tree (no {name})")
        lists.update({line.strip(): split for line in text_lines(path) if line.strip()})
    splits: dict[str, list] = {"train": [], "val": [], "test": []}
    words = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))
    for word in progress_bar(words, "speech commands", progress):
        label = word if classes == "all" or word in TEN else "unknown"
        for wav in sorted((root / word).glob("*.wav")):
            rel = f"{word}/{wav.name}"
            splits[lists.get(rel, "train")].append(
                ManifestEntry(str(wav.resolve()), round(audio_info(wav)[2], 3), label, extra={"label": label}))
    if classes == "10+2":
        _add_silence(root / "_background_noise_", splits, np.random.default_rng(seed))
    for rows in splits.values():
        for e in rows:
            e.text = ""  # label manifests: the class is in `label`
    return write_splits(dst, splits)


def _add_silence(folder: Path, splits: dict[str, list], rng: np.random.Generator) -> None:
    """As many 1 s background windows per split as the average class has rows there (80/10/10 by file)."""
    noises = sorted(folder.glob("*.wav")) if folder.is_dir() else []
    if not noises:
        return
    windows = [(p, float(s)) for p in noises for s in np.arange(0, audio_info(p)[2] - 1.0, 1.0)]
    rng.shuffle(windows)
    for split in splits:
        per_class = max(1, len(splits[split]) // 11)
        for path, start in windows[:per_class]:
            e = ManifestEntry(str(path.resolve()), 1.0, "", offset=round(start, 3), extra={"label": "silence"})
            splits[split].append(e)
        windows = windows[per_class:]
