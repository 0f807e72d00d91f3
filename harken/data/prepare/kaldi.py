"""A Kaldi data dir: `wav.scp` and `text`, optionally `segments` and `utt2spk`.

`wav.scp` entries that are shell pipelines (`... |`) are refused with their line: harken never runs
commands found in data files. With `segments`, rows point into the recordings with offset/duration.
"""

from __future__ import annotations

from pathlib import Path

from harken.audio.io import audio_info
from harken.data.prepare.common import entry, text_lines, write_splits


def _table(path: Path, min_fields: int = 2) -> dict[str, tuple[int, list[str]]]:
    out = {}
    for lineno, line in enumerate(text_lines(path), 1):
        if not line.strip():
            continue
        fields = line.split(maxsplit=1) if min_fields == 2 else line.split()
        if len(fields) < min_fields:
            raise ValueError(f"{path}:{lineno}: expected at least {min_fields} fields")
        out[fields[0]] = (lineno, fields[1:])
    return out


def prepare(root: Path, dst: Path, progress: bool = True) -> dict[str, Path]:
    for name in ("wav.scp", "text"):
        if not (root / name).exists():
            raise FileNotFoundError(f"{root}: not a Kaldi data dir (no {name})")
    recordings = {}
    for rec, (lineno, (value,)) in _table(root / "wav.scp").items():
        value = value.strip()
        if value.endswith("|") or value.startswith("|"):
            raise ValueError(f"{root / 'wav.scp'}:{lineno}: {rec} is a command pipeline; harken does not run "
                             "commands from data files: convert the audio to files and list their paths")
        path = Path(value) if Path(value).is_absolute() else (root / value)
        recordings[rec] = path
    texts = {utt: " ".join(rest[0].split()) for utt, (_, rest) in _table(root / "text").items()}
    speakers = {u: rest[0].strip() for u, (_, rest) in _table(root / "utt2spk").items()} \
        if (root / "utt2spk").exists() else {}
    rows = []
    if (root / "segments").exists():
        for utt, (lineno, (rec, start, end)) in _table(root / "segments", min_fields=4).items():
            if rec not in recordings:
                raise ValueError(f"{root / 'segments'}:{lineno}: recording {rec} is not in wav.scp")
            e = entry(recordings[rec], texts.get(utt, ""), float(end) - float(start), utt=utt,
                      **({"speaker": speakers[utt]} if utt in speakers else {}))
            e.offset = float(start)
            rows.append(e)
    else:
        for utt, path in recordings.items():
            if not path.exists():
                raise FileNotFoundError(f"{root / 'wav.scp'}: {utt}: {path} does not exist")
            rows.append(entry(path, texts.get(utt, ""), audio_info(path)[2], utt=utt,
                              **({"speaker": speakers[utt]} if utt in speakers else {})))
    return write_splits(dst, {"all": rows})
