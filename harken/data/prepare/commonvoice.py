"""Mozilla Common Voice: `clips/*.mp3` and `{train,dev,test,validated}.tsv` (columns include `path`
and `sentence`). MP3 is decoded once to 16 kHz WAV under DST/wav/<split>/."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from harken.data.prepare.common import entry, progress_bar, text_lines, to_wav, write_splits

SPLITS = ("train", "dev", "test")


def prepare(root: Path, dst: Path, progress: bool = True) -> dict[str, Path]:
    tables = [s for s in SPLITS if (root / f"{s}.tsv").exists()]
    if not tables or not (root / "clips").is_dir():
        raise FileNotFoundError(f"{root}: not a Common Voice folder (clips/ and train/dev/test .tsv)")
    splits = {}
    for split in tables:
        table = "\n".join(text_lines(root / f"{split}.tsv"))  # not UTF-8: an error with file and line
        rows = list(csv.DictReader(io.StringIO(table), delimiter="\t", quoting=csv.QUOTE_NONE))
        out = []
        for i, row in enumerate(progress_bar(rows, f"commonvoice {split}", progress), 2):
            if "path" not in row or "sentence" not in row:
                raise ValueError(f"{root / (split + '.tsv')}:{i}: needs `path` and `sentence` columns")
            mp3 = root / "clips" / row["path"]
            wav = dst / "wav" / split / (Path(row["path"]).stem + ".wav")
            extra = {"speaker": row["client_id"]} if row.get("client_id") else {}
            out.append(entry(wav, " ".join(row["sentence"].split()), to_wav(mp3, wav), **extra))
        splits[split] = out
    return write_splits(dst, splits)
