"""Bad files for scripts/fuzz_cli.py: WAVs with absurd headers, cut or flipped bytes, NaN samples, FIFOs and
folders named .wav; manifests with odd field values, broken UTF-8, deep nesting and long lines; .nemo archives
with odd config values, alias bombs, gzip bombs and tokenizer paths outside the archive."""

from __future__ import annotations

import copy
import io
import json
import os
import random
import struct
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "nemo" / "quartznet_tiny" / "model.nemo"
SPEECH = ROOT / "tests" / "data" / "nemo" / "ctc_timestamps" / "utt1.wav"
ODD_NUMBERS = [0, -1, 1, 7, 2**15, 2**31 - 1, 2**32 - 1, 10**7, 10**12, 1.5, -0.5, 1e308]
ODD_VALUES = ODD_NUMBERS + ["", "x", None, True, [], {}, [1, 2], "${nowhere}", "\udcff"[:0] + "é" * 3]


@dataclass
class Case:
    kind: str
    argv: list[str]
    folder: Path
    env: dict = field(default_factory=dict)
    may_change: list[str] = field(default_factory=list)  # an --output given with --overwrite that is no input


# ------------------------------------------------------------------ generated inputs
def wav(rng: random.Random, path: Path) -> Path:
    """A WAV whose header fields are each sometimes absurd, with a random amount of data after it."""
    rate = rng.choice([1, 7, 100, 999, 8000, 16000, 44100, 10**6, 2**31 - 1, 0])
    channels = rng.choice([1, 1, 2, 0, 3, 300, 65535])
    bits = rng.choice([16, 16, 8, 24, 32, 0, 7, 64])
    fmt = rng.choice([1, 1, 3, 0, 0xFFFE, 85, 2])
    data = rng.randbytes(rng.choice([0, 1, 2, 100, 4000, 40000]))
    declared = rng.choice([len(data), len(data), 0, 2**32 - 1, len(data) * 1000])
    align = max(channels * bits // 8, 1) & 0xFFFF
    hdr = struct.pack("<IHHIIHH", 16, fmt, channels & 0xFFFF, rate & 0xFFFFFFFF,
                      (rate * align) & 0xFFFFFFFF, align, bits)
    path.write_bytes(b"RIFF" + struct.pack("<I", (36 + declared) & 0xFFFFFFFF) + b"WAVEfmt " + hdr + b"data"
                     + struct.pack("<I", declared & 0xFFFFFFFF) + data)
    return path


def bad_audio(rng: random.Random, folder: Path, name: str = "a.wav") -> Path:
    path = folder / name
    choice = rng.randrange(9)
    if choice <= 2:
        return wav(rng, path)
    good = SPEECH.read_bytes()
    if choice == 3:  # flipped bytes
        data = bytearray(good)
        for _ in range(rng.choice([1, 10, 100])):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
    elif choice == 4:  # cut short
        path.write_bytes(good[:rng.randrange(len(good))])
    elif choice == 5:  # float samples that are not numbers
        import numpy as np
        import soundfile as sf

        x = np.zeros(1600, dtype=np.float32)
        x[rng.randrange(1600)] = rng.choice([np.nan, np.inf, -np.inf, 1e30])
        sf.write(path, x, 16000, subtype="FLOAT")
    elif choice == 6:
        os.mkfifo(path)
    elif choice == 7:
        path.mkdir()
    else:
        path.write_bytes(rng.randbytes(rng.choice([0, 1, 44, 1000])))
    return path


def bad_manifest(rng: random.Random, folder: Path, audio: list[str]) -> Path:
    rows = []
    for _ in range(rng.randint(0, 4)):
        r = {"audio_filepath": rng.choice(audio), "duration": 1.0, "text": "the cat"}
        if rng.random() < 0.5:
            r[rng.choice(["duration", "offset", "text", "audio_filepath", "text_filepath"])] = rng.choice(ODD_VALUES)
        rows.append(json.dumps(r, allow_nan=True).encode())
    extra = rng.randrange(8)
    if extra == 0:
        rows.append(b'{"audio_filepath": "caf\xe9.wav", "duration": 1}')
    elif extra == 1:
        rows.append(b"[" * rng.choice([100, 10000, 200000]))
    elif extra == 2:
        rows.append(b'{"audio_filepath": "' + b"a" * 5000 + b'", "duration": 1}')
    elif extra == 3:
        rows.insert(0, b"\xef\xbb\xbf" + json.dumps({"audio_filepath": audio[0], "duration": 1}).encode())
    elif extra == 4:
        os.mkfifo(folder / "t.txt")
        rows.append(json.dumps({"audio_filepath": audio[0], "duration": 1, "text_filepath": "t.txt"}).encode())
    elif extra == 5 and rows:
        rows[0] = rows[0][:rng.randrange(len(rows[0]))]
    path = folder / "m.json"
    path.write_bytes(b"\n".join(rows) + (b"\n" if rows else b""))
    return path


def _members() -> dict[str, bytes]:
    with tarfile.open(TINY) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


MEMBERS = _members()
CONFIG_NAME = next(k for k in MEMBERS if k.endswith("model_config.yaml"))
CONFIG = yaml.safe_load(MEMBERS[CONFIG_NAME])


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))
    yield prefix


def _has_key(node: dict | list, key) -> bool:
    return key in node if isinstance(node, dict) else isinstance(key, int) and key < len(node)


def bad_model(rng: random.Random, folder: Path) -> Path:
    members, cfg = dict(MEMBERS), copy.deepcopy(CONFIG)
    choice, mode = rng.randrange(8), "w"
    if choice <= 2:  # random values at random keys of the sections that build the model
        keys = [p for p in _paths(cfg) if p and p[0] in ("preprocessor", "encoder", "decoder", "labels")]
        for _ in range(rng.randint(1, 3)):
            *parents, last = rng.choice(keys)
            node = cfg
            for p in parents:  # an earlier change may have replaced a parent: then this key is gone
                node = node[p] if isinstance(node, (dict, list)) and _has_key(node, p) else None
            if isinstance(node, (dict, list)) and _has_key(node, last):
                node[last] = rng.choice(ODD_VALUES)
    elif choice == 3:
        cfg["tokenizer"] = {"type": rng.choice(["wpe", "bpe"]), "vocab_path": "/etc/passwd",
                            "model_path": str(SPEECH), "dir": "/etc"}
    text = yaml.safe_dump(cfg).encode()
    if choice == 4:
        text += b"b0: &b0 [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
            f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]\n".encode() for i in range(1, 9))
    elif choice == 5:
        text += b"# caf\xe9\n"
    members[CONFIG_NAME] = text
    if choice == 6:
        members["./big.bin"], mode = bytes(rng.choice([50, 300]) << 20), "w:gz"
    path = folder / "m.nemo"
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    if choice == 7:
        data = bytearray(path.read_bytes())
        cut = rng.choice(["cut", "flip"])
        if cut == "cut":
            data = data[:rng.randrange(len(data))]
        else:
            for _ in range(20):
                data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
    return path


