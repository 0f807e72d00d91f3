"""WebDataset-style tar shards: many utterances per file, read as a stream.

    harken data shard train.json shards/ --shard-size 1000
    -> shards/shard-000000.tar ... with members `<key>.<audio ext>` + `<key>.json`, and shards/index.json

`ShardStream` reads them from any fsspec URL (local paths included) with a shuffle buffer; shards are
split between DDP ranks and then between dataloader workers, so every utterance is read by exactly one
process per epoch and memory does not grow with the corpus.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import IterableDataset, get_worker_info

from harken.audio.io import audio_info, to_mono_resampled
from harken.core.atomic import atomic_write_text
from harken.core.limits import regular_file
from harken.data.manifest import iter_manifest
from harken.text.char_tokenizer import CharTokenizer


def write_shards(manifest: str | Path, outdir: str | Path, shard_size: int = 1000, progress: bool = True) -> list[Path]:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    shards, counts, batch = [], [], []
    entries = iter_manifest(manifest)
    if progress:
        from tqdm import tqdm

        entries = tqdm(entries, desc="shard", unit="utt")
    for n, e in enumerate(entries):
        batch.append((n, e))
        if len(batch) == shard_size:
            shards.append(_write_shard(outdir / f"shard-{len(shards):06d}.tar", batch))
            counts.append(len(batch))
            batch = []
    if batch:
        shards.append(_write_shard(outdir / f"shard-{len(shards):06d}.tar", batch))
        counts.append(len(batch))
    index = {"shards": [p.name for p in shards], "utterances": counts, "source": str(manifest)}
    atomic_write_text(outdir / "index.json", json.dumps(index, indent=1))
    return shards


def _write_shard(path: Path, batch: list) -> Path:
    """One tar, written beside its name and renamed into place: a failure leaves no half shard."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tarfile.open(tmp, "w") as tar:
            for n, e in batch:
                data, ext = _audio_member(e)
                meta = {"duration": e.duration, "text": e.text, "source": e.audio_filepath, **e.extra}
                for name, payload in ((f"{n:09d}.{ext}", data), (f"{n:09d}.json", json.dumps(meta).encode())):
                    info = tarfile.TarInfo(name)
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _audio_member(e) -> tuple[bytes, str]:
    """The entry's audio as stored: the file's bytes, or a FLAC of its segment (offset) or of another format."""
    try:
        src = regular_file(e.audio_filepath, "audio file")  # a FIFO would block the read forever
        if not (e.offset or src.suffix.lower() not in (".wav", ".flac", ".ogg")):
            audio_info(src)  # a header that reads: training would fail on the shard otherwise
            return src.read_bytes(), src.suffix.lower().lstrip(".")
        with sf.SoundFile(str(src)) as f:
            f.seek(int(e.offset * f.samplerate))
            audio, sr = f.read(int(e.duration * f.samplerate), dtype="float32"), f.samplerate
        buf = io.BytesIO()
        sf.write(buf, audio, sr, format="FLAC")
        return buf.getvalue(), "flac"
    except (OSError, RuntimeError, ValueError) as err:  # soundfile's errors are RuntimeErrors
        text = str(err) if e.audio_filepath in str(err) else f"{e.audio_filepath}: {err}"
        raise ValueError(f"{e.where}: {text}") from None


def shard_list(spec: str | Sequence[str]) -> list[str]:
    """A list of shard URLs, a folder with index.json, or a comma-separated string of URLs."""
    if isinstance(spec, (list, tuple)):
        return [str(s) for s in spec]
    spec = str(spec)
    index = Path(spec) / "index.json"
    if index.exists():
        return [str(Path(spec) / name) for name in json.loads(index.read_text())["shards"]]
    return [s.strip() for s in spec.split(",") if s.strip()]


class ShardStream(IterableDataset):
    def __init__(self, shards: str | Sequence[str], tokenizer: CharTokenizer, sample_rate: int,
                 shuffle_buffer: int = 0, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.shards = shard_list(shards)
        if len(self.shards) < world_size:
            raise ValueError(f"{len(self.shards)} shards cannot be split between {world_size} ranks")
        self.tokenizer, self.sample_rate = tokenizer, sample_rate
        self.shuffle_buffer, self.seed, self.rank, self.world_size = shuffle_buffer, seed, rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def my_shards(self) -> list[str]:
        """This process's shards: every world_size-th (from rank), then every num_workers-th (from worker id).

        Ranks take equally many shards (the remainder is dropped), so DDP ranks step in lockstep.
        """
        order = list(self.shards)
        np.random.default_rng([self.seed, self.epoch]).shuffle(order)
        usable = len(order) - len(order) % self.world_size
        mine = order[:usable][self.rank::self.world_size]
        worker = get_worker_info()
        return mine if worker is None else mine[worker.id::worker.num_workers]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng([self.seed, self.epoch, self.rank])
        buffer: list = []
        for item in self._samples():
            if self.shuffle_buffer <= 1:
                yield item
                continue
            buffer.append(item)
            if len(buffer) >= self.shuffle_buffer:
                yield buffer.pop(int(rng.integers(len(buffer))))
        rng.shuffle(buffer)
        yield from buffer

    def _samples(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        import fsspec

        for url in self.my_shards():
            with fsspec.open(url, "rb") as f, tarfile.open(fileobj=f, mode="r|") as tar:
                pending: dict[str, dict] = {}
                for m in tar:
                    if not m.isfile():
                        continue
                    key, _, ext = m.name.partition(".")
                    pending.setdefault(key, {})[ext] = tar.extractfile(m).read()
                    if "json" in pending[key] and len(pending[key]) == 2:
                        yield self._decode(pending.pop(key), url)

    def _decode(self, parts: dict[str, bytes], url: str) -> tuple[torch.Tensor, torch.Tensor]:
        meta = json.loads(parts.pop("json"))
        audio, sr = sf.read(io.BytesIO(next(iter(parts.values()))), dtype="float32", always_2d=True)
        audio = to_mono_resampled(audio, sr, self.sample_rate, name=f"{url}:{meta.get('source')}")
        text, _ = self.tokenizer.normalize(meta.get("text", ""))
        return torch.from_numpy(audio), torch.tensor(self.tokenizer.encode(text), dtype=torch.long)
