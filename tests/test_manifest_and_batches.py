import json

import numpy as np
import pytest
import soundfile as sf
import torch

from harken.data.dataset import AudioTextDataset, collate_audio_text
from harken.data.manifest import ManifestEntry, ManifestError, read_manifest, write_manifest
from harken.data.sampler import DurationBatchSampler
from harken.text.char_tokenizer import CharTokenizer, OutOfVocabularyError

LABELS = list(" abcdefghijklmnopqrstuvwxyz'")


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"audio_filepath": "a.wav", "duration": 1.0, "text": "x"', "not valid JSON"),
        ('{"duration": 1.0, "text": "x"}', "missing 'audio_filepath'"),
        ('{"audio_filepath": "a.wav", "duration": "long", "text": "x"}', "'duration' must be a non-negative number"),
        ('{"audio_filepath": "a.wav", "duration": 1.0, "text": 5}', "'text' must be a string"),
        ('[1, 2]', "expected a JSON object"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    good = json.dumps({"audio_filepath": "a.wav", "duration": 1.0, "text": "fine"})
    m = _write(tmp_path / "train.json", [good, "", good, bad_line, good])
    with pytest.raises(ManifestError, match=rf"train\.json:4: {message}"):
        read_manifest(m)


def test_relative_paths_text_filepath_filters_and_round_trip(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "t.txt").write_text("from a file\n")
    m = _write(tmp_path / "sub" / "m.json", [
        json.dumps({"audio_filepath": "a.wav", "duration": 0.05, "text": "too short"}),
        json.dumps({"audio_filepath": "b.wav", "duration": 2.0, "text_filepath": "t.txt", "speaker": 7}),
        json.dumps({"audio_filepath": "/abs/c.wav", "duration": 30.0, "text": "too long", "offset": 1.5}),
    ])
    everything = read_manifest(m)
    assert [e.audio_filepath for e in everything] == [
        str(tmp_path / "sub" / "a.wav"), str(tmp_path / "sub" / "b.wav"), "/abs/c.wav"]
    kept = read_manifest(m, min_duration=0.1, max_duration=20)
    assert [(e.text, e.extra) for e in kept] == [("from a file", {"speaker": 7})]
    assert everything[2].offset == 1.5
    out = write_manifest(tmp_path / "copy.json", everything)
    assert read_manifest(out) == everything
    assert not list(tmp_path.glob(".copy.json.*"))  # no temporary file left behind


def test_missing_manifest_is_named(tmp_path):
    with pytest.raises(ManifestError, match="nope.json: manifest not found"):
        read_manifest(tmp_path / "nope.json")


def test_tokenizer_normalises_and_counts_dropped():
    tok = CharTokenizer(LABELS)
    assert tok.normalize("  Hello,   WORLD! ") == ("hello world", 2)
    assert tok.decode(tok.encode("it's")) == "it's"
    assert tok.blank_id == 28 and tok.vocab_size == 28
    assert tok.decode([8, 9, tok.blank_id, 9]) == "hii"
    with pytest.raises(OutOfVocabularyError, match="'é'"):
        tok.encode("café", strict=True)
    with pytest.raises(ValueError, match="duplicate"):
        CharTokenizer(["a", "a"])


def _durations(n=103, seed=1):
    return np.random.default_rng(seed).uniform(0.5, 12.0, n).tolist()


def test_batches_cover_everything_once_and_respect_limits():
    d = _durations()
    s = DurationBatchSampler(d, batch_size=8, max_batch_duration=40.0, num_buckets=5, seed=3)
    batches = list(s)
    assert sorted(i for b in batches for i in b) == list(range(len(d)))
    assert all(len(b) <= 8 and max(d[i] for i in b) * len(b) <= 40.0 for b in batches)
    assert len(batches) == len(s)
    s.set_epoch(1)
    assert list(s) != batches  # a new epoch reshuffles
    assert len(list(s)) == len(s)  # with the same length


def test_bucketing_reduces_padding():
    d = _durations(400)
    def padding(s):
        return sum(max(d[i] for i in b) * len(b) - sum(d[i] for i in b) for b in s)
    bucketed = padding(DurationBatchSampler(d, batch_size=16, num_buckets=20))
    plain = padding(DurationBatchSampler(d, batch_size=16, num_buckets=1))
    assert bucketed < 0.3 * plain


def test_ranks_get_equal_counts_and_disjoint_shards():
    d = _durations(101)
    ranks = [DurationBatchSampler(d, batch_size=4, rank=r, world_size=3, seed=5) for r in range(3)]
    shards = [list(s) for s in ranks]
    assert len({len(b) for b in shards}) == 1 and all(len(b) == len(s) for b, s in zip(shards, ranks))
    seen = [i for shard in shards for b in shard for i in b]
    assert set(seen) == set(range(101))  # padding only repeats batches; nothing is lost


def test_state_resumes_at_the_next_batch():
    d = _durations()
    s = DurationBatchSampler(d, batch_size=6, seed=9)
    s.set_epoch(2)
    full = list(s)
    state = s.state_dict(batches_consumed=5)
    fresh = DurationBatchSampler(d, batch_size=6, seed=0)
    fresh.load_state_dict(state)
    fresh.set_epoch(2)  # Lightning calls this before iterating; the pending resume survives
    assert list(fresh) == full[5:]
    fresh.set_epoch(3)  # the next epoch starts from its beginning
    assert len(list(fresh)) == len(full)
    with pytest.raises(ValueError, match="manifest changed"):
        DurationBatchSampler(d[:-1], batch_size=6).load_state_dict(state)


def _tone(path, seconds, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, 0.3 * np.sin(2 * np.pi * 440 * t), sr)


def test_dataset_items_and_collate(tmp_path):
    _tone(tmp_path / "a.wav", 0.5)
    _tone(tmp_path / "b.wav", 1.0)
    entries = [ManifestEntry(str(tmp_path / "a.wav"), 0.5, "Ab"), ManifestEntry(str(tmp_path / "b.wav"), 1.0, "c d")]
    ds = AudioTextDataset(entries, CharTokenizer(LABELS), 16000)
    audio, audio_len, tokens, token_len = collate_audio_text([ds[0], ds[1]])
    assert audio.shape == (2, 16000) and audio_len.tolist() == [8000, 16000]
    assert torch.all(audio[0, 8000:] == 0)
    assert tokens.tolist() == [[1, 2, 0], [3, 0, 4]] and token_len.tolist() == [2, 3]


def test_mostly_out_of_vocabulary_text_fails_with_lines(tmp_path):
    m = _write(tmp_path / "m.json", [
        json.dumps({"audio_filepath": "a.wav", "duration": 1.0, "text": "ok text"}),
        json.dumps({"audio_filepath": "b.wav", "duration": 1.0, "text": "Привет мир"}),
    ])
    entries = read_manifest(m)
    with pytest.raises(OutOfVocabularyError, match=r"(?s)not in the model's labels.*m\.json:2"):
        AudioTextDataset(entries, CharTokenizer(LABELS), 16000, manifest_path=str(m))
    AudioTextDataset(entries, CharTokenizer(LABELS), 16000, max_oov_fraction=0.9)  # allowed when asked
