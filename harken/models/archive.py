"""`.nemo` archives: a tar holding `./model_config.yaml`, `./model_weights.ckpt` and artifacts.

Reading is defensive: members are checked before anything is extracted (no absolute paths, no
`..`, no links or devices, bounded sizes: HARKEN_MAX_ARCHIVE_BYTES in all, and a compressed archive may
not unpack to more than HARKEN_MAX_ARCHIVE_RATIO times its size), nothing is written to disk, the config
is YAML read with the same bounds as any config (core/config.py), and weights load with
`torch.load(weights_only=True)`, so a checkpoint can never run code. Writing is atomic: a
crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import io
import lzma
import pickle
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

import torch

from harken.core.atomic import atomic_write_bytes
from harken.core.config import ConfigError, dump_config, parse_yaml, resolve
from harken.core.limits import limit, over, regular_file
from harken.models.sizes import check_config_sizes

CONFIG_NAME = "model_config.yaml"
WEIGHTS_NAME = "model_weights.ckpt"
MAX_MEMBER_BYTES = 4 * 1024**3  # the largest NeMo CTC checkpoints are ~0.5 GB
MAX_MEMBERS = 1000
COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")  # gzip, bzip2, xz magic numbers
SLACK = 64 << 20  # bytes any archive may unpack to whatever its size (configs, tokenizers)


class ArchiveError(ValueError):
    pass


@dataclass
class Archive:
    config: dict
    state_dict: dict[str, torch.Tensor]
    artifacts: dict[str, bytes] = field(default_factory=dict)  # other members by base name


def _member_name(path: Path, m: tarfile.TarInfo) -> str | None:
    """Normalised name of a regular-file member, None for directories; raises on anything unsafe."""
    name = m.name
    p = PurePosixPath(name)
    if p.is_absolute() or name.startswith(("/", "\\")) or ".." in p.parts or "\\" in name:
        raise ArchiveError(f"{path}: refusing archive member {name!r}: path escapes the archive")
    if m.isdir():
        return None
    if not m.isfile():
        kind = "link" if (m.issym() or m.islnk()) else "device or special file"
        raise ArchiveError(f"{path}: refusing archive member {name!r}: it is a {kind}")
    if m.size > MAX_MEMBER_BYTES:
        raise ArchiveError(f"{path}: archive member {name!r} is {m.size} bytes, over the {MAX_MEMBER_BYTES} limit")
    parts = [x for x in p.parts if x != "."]
    return "/".join(parts)


def read_archive(path: str | Path) -> Archive:
    path = Path(path)
    if not path.exists():
        raise ArchiveError(f"{path}: no such model file")
    try:
        size = regular_file(path, ".nemo model file").stat().st_size
    except OSError as e:
        raise ArchiveError(str(e)) from None
    try:
        with path.open("rb") as f:
            compressed = f.read(6).startswith(COMPRESSED)
        tar = tarfile.open(path, mode="r:*")  # also reads old gzip-compressed .nemo files
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ArchiveError(f"{path}: not a readable .nemo archive ({e})") from e
    budget = limit("archive_bytes")
    if compressed:
        budget = min(budget, limit("archive_ratio") * size + SLACK)
    members: dict[str, bytes] = {}
    weights: dict[str, tarfile.TarInfo] = {}
    total = 0
    try:
        with tar:
            for i, m in enumerate(tar):
                if i >= MAX_MEMBERS:
                    raise ArchiveError(f"{path}: more than {MAX_MEMBERS} members; not a model archive")
                name = _member_name(path, m)
                if name is None:
                    continue
                total += m.size
                if total > budget:
                    raise _too_big(path, total, size, compressed)
                if not compressed and m.offset_data + m.size > size:
                    raise ArchiveError(f"{path}: member {name!r} is truncated")
                if PurePosixPath(name).name == WEIGHTS_NAME:
                    weights[name] = m  # torch.load reads it from the archive below: no copy of its bytes
                    continue
                f = tar.extractfile(m)
                data = f.read() if f else b""
                if len(data) != m.size:
                    raise ArchiveError(f"{path}: member {name!r} is truncated")
                members[name] = data
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as e:
        raise ArchiveError(f"{path}: archive is truncated or corrupt ({e})") from e

    config_bytes = _find(members, CONFIG_NAME)
    weights_member = _find(weights, WEIGHTS_NAME)
    if config_bytes is None or weights_member is None:
        raise ArchiveError(f"{path}: not a model archive: expected {CONFIG_NAME} and {WEIGHTS_NAME}, found "
                           f"{sorted([*members, *weights])}")
    try:
        config = parse_yaml(config_bytes, f"{path}:{CONFIG_NAME}")
    except ConfigError as e:
        raise ArchiveError(str(e)) from None
    if not isinstance(config, dict):
        raise ArchiveError(f"{path}: {CONFIG_NAME} does not hold a mapping")
    _check_sizes(config, f"{path}:{CONFIG_NAME}")
    try:
        with tarfile.open(path, mode="r:*") as tar:
            state = load_weights(tar.extractfile(weights_member), f"{path}:{WEIGHTS_NAME}")
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as e:
        raise ArchiveError(f"{path}: archive is truncated or corrupt ({e})") from e
    artifacts = {PurePosixPath(k).name: v for k, v in members.items()
                 if PurePosixPath(k).name not in (CONFIG_NAME, WEIGHTS_NAME)}
    return Archive(config, state, artifacts)


def _check_sizes(config: dict, where: str) -> None:
    """Absurd model sizes are refused here, naming the file (building the model checks again, for configs
    that come from elsewhere)."""
    try:
        resolved = resolve(config)
    except ConfigError:
        return  # a broken reference: building the model reports it
    model = resolved.get("model", resolved)
    if isinstance(model, dict):
        try:
            check_config_sizes(model, where)
        except ValueError as e:
            raise ArchiveError(str(e)) from None


def _too_big(path: Path, total: int, size: int, compressed: bool) -> ArchiveError:
    """Which bound `total` unpacked bytes broke: the ratio of a compressed archive, or the total."""
    if total > limit("archive_bytes"):
        return ArchiveError(str(over("archive_bytes", f"{path}: unpacked size", total)))
    return ArchiveError(str(over("archive_ratio", f"{path}: a compressed archive of {size} bytes unpacking to "
                                                  f"more than {total} bytes; ratio", (total - SLACK) / size)))


def _find(members: dict[str, bytes], base: str) -> bytes | None:
    for name, data in members.items():
        if PurePosixPath(name).name == base and "/" not in name:
            return data
    for name, data in members.items():  # model_weights.ckpt inside a rank folder (tensor-parallel saves)
        if PurePosixPath(name).name == base:
            return data
    return None


def load_weights(data: bytes | IO[bytes], where: str) -> dict[str, torch.Tensor]:
    """A state dict from the bytes of a weights file, or from a seekable file of them (read as it goes)."""
    try:
        obj = torch.load(io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data, map_location="cpu",
                         weights_only=True)
    except pickle.UnpicklingError as e:
        raise ArchiveError(
            f"{where}: refused: the weights file needs arbitrary Python objects to unpickle, which could "
            f"run code. harken loads only plain tensors (torch.load weights_only=True). Detail: {e}"
        ) from e
    except (RuntimeError, EOFError, ValueError) as e:
        raise ArchiveError(f"{where}: weights file is truncated or corrupt ({e})") from e
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]  # a Lightning checkpoint
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ArchiveError(f"{where}: expected a state dict of tensors")
    return obj


def write_archive(path: str | Path, config: dict, state_dict: dict[str, torch.Tensor],
                  artifacts: dict[str, bytes] | None = None, half: bool = False) -> None:
    """Write an uncompressed tar in NeMo's layout, atomically.

    `half` stores floating-point tensors as float16: half the bytes for a shipped model.
    Loading (harken's or NeMo's `load_state_dict`) copies them back into the model's own float32 parameters.
    """
    def stored(key: str, v: torch.Tensor) -> torch.Tensor:
        v = v.detach().cpu().contiguous()
        if not half or not v.is_floating_point():
            return v
        if v.numel() and v.abs().max() > torch.finfo(torch.float16).max:
            raise ValueError(f"{path}: {key} holds values beyond float16's range; save it in float32")
        return v.half()

    weights = io.BytesIO()
    torch.save({k: stored(k, v) for k, v in state_dict.items()}, weights)
    members = {CONFIG_NAME: dump_config(config).encode("utf-8"),
               WEIGHTS_NAME: weights.getvalue(), **(artifacts or {})}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    atomic_write_bytes(path, buf.getvalue())
