"""`harken data prepare KIND SRC DST`: public corpora in their own layouts -> NeMo manifests.

Each kind is one module with `prepare(root, dst, progress) -> {split: manifest path}`; SRC may be a
folder, an archive or a URL (see source.py). Audio that soundfile reads well (wav, flac) is referenced in
place; SPHERE and MP3 are converted once to 16 kHz mono WAV under DST/wav, as NeMo's scripts do.
"""

from __future__ import annotations

import importlib
from pathlib import Path

KINDS = ("an4", "librispeech", "speech_commands", "commonvoice", "kaldi", "folder")


def prepare(kind: str, src: str, dst: str | Path, sha256: str | None = None, progress: bool = True,
            overwrite: bool = False, **options) -> dict[str, Path]:
    """Manifests of corpus `src` in `dst`; a `dst` that already holds manifests is refused unless `overwrite`."""
    from harken.data.prepare.source import materialize

    if kind not in KINDS:
        raise ValueError(f"unknown corpus kind {kind!r}; use one of {', '.join(KINDS)}")
    dst = Path(dst)
    if dst.exists() and not dst.is_dir():
        raise ValueError(f"{dst}: exists and is not a folder; give the output folder for the manifests")
    existing = sorted(dst.glob("*_manifest.json")) if dst.is_dir() else []
    if existing and not overwrite:
        raise ValueError(f"{dst} already holds manifests ({', '.join(p.name for p in existing)}): give --overwrite "
                         "to replace them, or another output folder")
    root = materialize(src, dst / "source", sha256=sha256, progress=progress)
    module = importlib.import_module(f"harken.data.prepare.{kind}")
    return module.prepare(root, dst, progress=progress, **options)
