"""Tar shards: written from a manifest, streamed with a shuffle buffer, split between ranks, trained on."""

import json
import subprocess
import sys

import lightning.pytorch as pl
import numpy as np
import soundfile as sf

from harken.data.manifest import ManifestEntry, read_manifest, write_manifest
from harken.data.shards import ShardStream, shard_list, write_shards
from harken.text.char_tokenizer import CharTokenizer
from harken.training.run import train
from tests.conftest import tiny_config

TOK = CharTokenizer(list(" abcdefghijklmnopqrstuvwxyz'"))


def _manifest(tmp_path, n=10):
    rows = []
    for i in range(n):
        x = 0.1 * np.sin(2 * np.pi * (200 + 20 * i) * np.arange(8000 + 800 * i) / 16000)
        sf.write(tmp_path / f"{i}.wav", x.astype(np.float32), 16000)
        rows.append(ManifestEntry(str(tmp_path / f"{i}.wav"), (8000 + 800 * i) / 16000, f"utt {'abcdefghij'[i]}"))
    return write_manifest(tmp_path / "m.json", rows)


def test_write_and_stream_every_utterance_once(tmp_path):
    manifest = _manifest(tmp_path)
    shards = write_shards(manifest, tmp_path / "shards", shard_size=3, progress=False)
    assert [p.name for p in shards] == [f"shard-{i:06d}.tar" for i in range(4)]
    assert json.loads((tmp_path / "shards" / "index.json").read_text())["utterances"] == [3, 3, 3, 1]
    stream = ShardStream(str(tmp_path / "shards"), TOK, 16000, shuffle_buffer=4, seed=1)
    items = list(stream)
    texts = sorted(TOK.decode(t.tolist()) for _, t in items)
    assert texts == sorted(e.text for e in read_manifest(manifest))
    lengths = sorted(a.shape[0] for a, _ in items)
    assert lengths == sorted(8000 + 800 * i for i in range(10))
    stream.set_epoch(1)
    assert [TOK.decode(t.tolist()) for _, t in stream] != [TOK.decode(t.tolist()) for _, t in items]  # reshuffled


def test_two_ranks_get_disjoint_shards(tmp_path):
    write_shards(_manifest(tmp_path), tmp_path / "shards", shard_size=2, progress=False)  # 5 shards
    ranks = [ShardStream(str(tmp_path / "shards"), TOK, 16000, rank=r, world_size=2) for r in range(2)]
    mine = [set(r.my_shards()) for r in ranks]
    assert not mine[0] & mine[1] and len(mine[0]) == len(mine[1]) == 2
    seen = [{TOK.decode(t.tolist()) for _, t in r} for r in ranks]
    assert not seen[0] & seen[1] and len(seen[0]) == len(seen[1]) == 4


class _Count(pl.Callback):
    def __init__(self):
        self.seen = 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.seen += batch[0].shape[0]


def test_training_on_shards_sees_the_same_utterances_per_epoch(tmp_path):
    manifest = _manifest(tmp_path)
    subprocess.run([sys.executable, "-m", "harken", "data", "shard", str(manifest), str(tmp_path / "shards"),
                    "--shard-size", "4"], check=True, capture_output=True, timeout=120)
    counts = []
    for source in ({"manifest_filepath": str(manifest)}, {"shards": str(tmp_path / "shards"), "shuffle_buffer": 8}):
        cfg = tiny_config(str(manifest), max_epochs=1)
        cfg["model"]["train_ds"] = {**source, "batch_size": 3}
        cfg["model"]["validation_ds"] = None
        count = _Count()
        train(cfg, out=str(tmp_path / f"run{len(counts)}"), progress=False, callbacks=[count])
        counts.append(count.seen)
    assert counts == [10, 10]
    assert len(shard_list(str(tmp_path / "shards"))) == 3
