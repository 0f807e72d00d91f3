"""Reads a W&B run's `.wandb` transaction log (what an offline run writes) into `Record` protobufs.

wandb up to 0.28 ships the reader, `wandb.sdk.internal.datastore.DataStore`, and it is used when present.
Later versions write the log from their Go core and no longer ship a Python reader, so the same documented
format (LevelDB log framing: 7-byte `:W&B` header, 32 KiB blocks, records of FULL/FIRST/MIDDLE/LAST chunks
with a zlib crc32) is read here; the records themselves are always parsed with wandb's own protobuf schema
(`wandb.proto.wandb_internal_pb2.Record`).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: str | Path) -> list:
    from wandb.proto import wandb_internal_pb2 as pb

    out = []
    for data in _official(path) or _chunks(path):
        record = pb.Record()
        record.ParseFromString(data)
        out.append(record)
    return out


def _official(path: str | Path) -> list[bytes] | None:
    try:
        from wandb.sdk.internal.datastore import DataStore
    except ImportError:
        return None
    store, out = DataStore(), []
    store.open_for_scan(str(path))
    while (data := store.scan_data()) is not None:
        out.append(data)
    return out


def _chunks(path: str | Path) -> list[bytes]:
    raw = Path(path).read_bytes()
    if raw[:HEADER] != struct.pack("<4sHB", b":W&B", 0xBEE1, 0):
        raise ValueError(f"{path}: not a W&B transaction log")
    pos, data, out = HEADER, b"", []
    while pos + HEADER <= len(raw):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # block trailer: zero padding
            pos += left
            continue
        checksum, length, kind = struct.unpack_from("<IHB", raw, pos)
        if kind == 0 and length == 0:  # preallocated, not yet written
            break
        chunk = raw[pos + HEADER: pos + HEADER + length]
        if checksum != zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF:
            raise ValueError(f"{path}: bad checksum at byte {pos}")
        pos += HEADER + length
        data = chunk if kind in (FULL, FIRST) else data + chunk
        if kind in (FULL, LAST):
            out.append(data)
    return out
