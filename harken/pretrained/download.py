"""Fetching files into a cache, robustly: resume, checksum, atomic rename, offline mode.

Only the standard library (urllib), so nothing heavy is imported to download a model. A partial
download lives at `<file>.part` and is continued with an HTTP Range request; the finished file is
checked against its sha256 (when known) before it is renamed into place, so a file in the cache is
always complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

from tqdm import tqdm

CHUNK = 1 << 20


class DownloadError(OSError):
    pass


def cache_dir() -> Path:
    """`$HARKEN_CACHE`, else `$XDG_CACHE_HOME/harken`, else `~/.cache/harken`."""
    if os.environ.get("HARKEN_CACHE"):
        return Path(os.environ["HARKEN_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "harken"


def offline() -> bool:
    return os.environ.get("HARKEN_OFFLINE", "").lower() in ("1", "true", "yes") or \
        os.environ.get("HF_HUB_OFFLINE", "") == "1"


def url_key(url: str) -> str:
    """The cache folder of a URL: its checksum, so two URLs ending in the same file name never share a file."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, dest: Path, sha256: str | None = None, progress: bool = True, timeout: float = 60.0) -> Path:
    """Make `dest` hold the file at `url` (http(s), file:// or a local path); returns `dest`."""
    dest = Path(dest)
    if dest.exists() and (sha256 is None or sha256_of(dest) == sha256):
        return dest
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        source = Path(unquote(parsed.path) if parsed.scheme == "file" else url).expanduser()
        if not source.is_file():
            raise DownloadError(f"{url}: no such file")
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        shutil.copyfile(source, part)
        return _finish(part, dest, sha256, url)
    if parsed.scheme not in ("http", "https"):
        raise DownloadError(f"{url}: unsupported URL scheme {parsed.scheme!r}; use http, https or file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "harken"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if have and response.status != 206:  # the server ignored the range: start again
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            with part.open("ab" if have else "wb") as f, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                desc=dest.name, disable=not progress,
            ) as bar:
                for block in iter(lambda: response.read(CHUNK), b""):
                    f.write(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # asked for bytes past the end: the part file is already complete
            return _finish(part, dest, sha256, url)
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        raise DownloadError(f"{url}: download failed ({getattr(e, 'reason', e)}); run again to resume") from None
    if total is not None and part.stat().st_size != total:
        raise DownloadError(f"{url}: connection closed at {part.stat().st_size} of {total} bytes; run again to resume")
    return _finish(part, dest, sha256, url)


def _finish(part: Path, dest: Path, sha256: str | None, url: str) -> Path:
    if sha256 is not None:
        got = sha256_of(part)
        if got != sha256:
            part.unlink()
            raise DownloadError(f"{url}: checksum mismatch (sha256 {got}, expected {sha256}); the file was removed")
    os.replace(part, dest)
    return dest
