"""Where a corpus comes from: a folder (used in place), an archive (extracted safely) or a URL
(downloaded with resume and checksum through the same code as pretrained models, then extracted)."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from harken.pretrained.download import fetch

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")


def materialize(src: str, work: Path, sha256: str | None = None, progress: bool = True) -> Path:
    scheme = urlparse(src).scheme
    if scheme in ("http", "https", "file"):
        name = Path(urlparse(src).path).name or "download"
        src = str(fetch(src, work / "downloads" / name, sha256=sha256, progress=progress))
    path = Path(src).expanduser()
    if path.is_dir():
        return path
    if not path.is_file():
        raise FileNotFoundError(f"{src}: no such folder, archive or URL")
    if not path.name.endswith(ARCHIVE_SUFFIXES):
        raise ValueError(f"{src}: not a folder or a known archive ({', '.join(ARCHIVE_SUFFIXES)})")
    out = work / "extracted" / path.name.split(".")[0]
    done = out / ".harken-extracted"
    if not done.exists():
        extract(path, out)
        done.touch()
    entries = [p for p in out.iterdir() if p.name != done.name]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else out


def extract(archive: Path, out: Path) -> None:
    """Extract regular files and folders only; refuse absolute paths, '..', links and devices."""
    out.mkdir(parents=True, exist_ok=True)

    def safe(name: str) -> Path:
        p = PurePosixPath(name)
        if p.is_absolute() or ".." in p.parts:
            raise ValueError(f"{archive}: refusing member {name!r}: path escapes the archive")
        return out.joinpath(*[x for x in p.parts if x != "."])

    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                target = safe(info.filename)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(info))
        return
    with tarfile.open(archive, "r:*") as tar:
        for m in tar:
            target = safe(m.name)
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif m.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(m) as f:
                    target.write_bytes(f.read())
            else:
                raise ValueError(f"{archive}: refusing member {m.name!r}: links and devices are not extracted")
