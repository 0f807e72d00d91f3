"""Where a corpus comes from: a folder (used in place), an archive (extracted safely) or a URL
(downloaded with resume and checksum through the same code as pretrained models, then extracted)."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from harken.core.limits import limit, over, regular_file
from harken.pretrained.download import fetch, url_key

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")
SCHEMES = ("http", "https", "file")
DISK_MARGIN = 1 << 30  # extraction stops short of filling the disk by this much


def materialize(src: str, work: Path, sha256: str | None = None, progress: bool = True) -> Path:
    if "://" in src:
        parsed = urlparse(src)
        if parsed.scheme.lower() not in SCHEMES:
            raise ValueError(f"{src}: unsupported URL scheme {parsed.scheme!r}; use {', '.join(SCHEMES)}")
        name = Path(parsed.path).name or "download"
        src = str(fetch(src, work / "downloads" / url_key(src) / name, sha256=sha256, progress=progress))
    path = Path(src).expanduser()
    if path.is_dir():
        return path
    if not path.exists():
        raise FileNotFoundError(f"{src}: no such folder, archive or URL")
    regular_file(path, "corpus archive")
    if not path.name.endswith(ARCHIVE_SUFFIXES):
        raise ValueError(f"{src}: not a folder or a known archive ({', '.join(ARCHIVE_SUFFIXES)})")
    out = work / "extracted" / f"{path.name.split('.')[0]}-{_archive_key(path)}"
    done = out / ".harken-extracted"
    if not done.exists():
        try:
            extract(path, out)
        except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise ValueError(f"{path}: not a readable archive ({e})") from None
        done.touch()
    entries = [p for p in out.iterdir() if p.name != done.name]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else out


def _archive_key(path: Path) -> str:
    """Two archives with one name (from two places, or replaced) never share an extraction folder."""
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]


def extract(archive: Path, out: Path) -> None:
    """Extract regular files and folders only; refuse absolute paths, '..', links and devices. Members are
    copied in blocks (memory stays small) and their total is bounded by HARKEN_MAX_EXTRACT_BYTES and the free
    disk space, checked against each member's declared size before it is written."""
    out.mkdir(parents=True, exist_ok=True)
    budget = min(limit("extract_bytes"), shutil.disk_usage(out).free - DISK_MARGIN)
    total = 0

    def safe(name: str, size: int) -> Path:
        nonlocal total
        p = PurePosixPath(name)
        if p.is_absolute() or ".." in p.parts:
            raise ValueError(f"{archive}: refusing member {name!r}: path escapes the archive")
        total += size
        if total > budget:
            if total > limit("extract_bytes"):
                raise over("extract_bytes", f"{archive}: unpacked size", total)
            raise ValueError(f"{archive}: unpacks to more than the {budget} bytes free on disk at {out} (less 1 GiB)")
        return out.joinpath(*[x for x in p.parts if x != "."])

    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                target = safe(info.filename, 0 if info.is_dir() else info.file_size)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as f, target.open("wb") as g:
                    shutil.copyfileobj(f, g, 1 << 20)
        return
    with tarfile.open(archive, "r:*") as tar:
        for m in tar:
            target = safe(m.name, m.size if m.isfile() else 0)
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif m.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(m) as f, target.open("wb") as g:
                    shutil.copyfileobj(f, g, 1 << 20)
            else:
                raise ValueError(f"{archive}: refusing member {m.name!r}: links and devices are not extracted")
