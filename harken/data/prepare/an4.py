"""CMU AN4: NIST SPHERE audio + `etc/an4_{train,test}.transcription` / `.fileids` (NeMo's AN4 tutorial data).

A transcription line is `<s> RUBOUT G M E F THREE NINE </s> (fash-an251-b)`; the matching fileids line
is `fash/an251-fash-b`, relative to `wav/an4_clstk` (train) or `wav/an4test_clstk` (test).
"""

from __future__ import annotations

import re
from pathlib import Path

from harken.data.prepare.common import entry, progress_bar, text_lines, to_wav, write_splits

_LINE = re.compile(r"^\s*(?:<s>)?(.*?)(?:</s>)?\s*\(([^)]*)\)\s*$")
FOLDERS = {"train": "an4_clstk", "test": "an4test_clstk"}


def prepare(root: Path, dst: Path, progress: bool = True) -> dict[str, Path]:
    if not (root / "etc").is_dir() and (root / "an4" / "etc").is_dir():
        root = root / "an4"
    splits = {}
    for split, folder in FOLDERS.items():
        trans, ids = root / "etc" / f"an4_{split}.transcription", root / "etc" / f"an4_{split}.fileids"
        if not trans.exists() or not ids.exists():
            raise FileNotFoundError(f"{root}: not an AN4 tree (missing {trans.name} or {ids.name} in etc/)")
        texts = text_lines(trans)
        fileids = [line.strip() for line in text_lines(ids) if line.strip()]
        texts = [t for t in texts if t.strip()]
        if len(texts) != len(fileids):
            raise ValueError(f"{trans}: {len(texts)} transcriptions but {ids.name} lists {len(fileids)} files")
        rows = []
        for lineno, (line, fileid) in enumerate(progress_bar(list(zip(texts, fileids)), f"an4 {split}", progress), 1):
            m = _LINE.match(line)
            if not m:
                raise ValueError(f"{trans}:{lineno}: cannot parse {line!r}")
            sph = root / "wav" / folder / f"{fileid}.sph"
            wav = dst / "wav" / split / f"{Path(fileid).name}.wav"
            rows.append(entry(wav, " ".join(m.group(1).split()).lower(), to_wav(sph, wav)))
        splits[split] = rows
    return write_splits(dst, splits)
