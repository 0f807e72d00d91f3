"""Synthetic speech-commands and VAD corpora: deterministic plans, held-out voices and background kinds,
1-s command clips with the 12 labels, VAD mixtures with one label per 20 ms frame that a frame classifier
reads, resumable rendering, and the `harken data synth-commands` / `synth-vad` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harken.cli.main import main
from harken.data.manifest import read_manifest
from harken.synth import commands, vad_corpus
from harken.synth.backgrounds import TEST_KINDS, TRAIN_KINDS, background
from harken.training.classifier_task import label_ids

pytest.importorskip("shutil").which("espeak-ng") or pytest.skip("espeak-ng is not installed", allow_module_level=True)


def test_commands_plan_is_deterministic_with_held_out_voices_and_sounds():
    a = commands.plan({"train": 60, "val": 12, "test": 24}, seed=3)
    assert a == commands.plan({"train": 60, "val": 12, "test": 24}, seed=3)
    assert a != commands.plan({"train": 60, "val": 12, "test": 24}, seed=4)
    train = [c for c in a if c.split != "test"]
    test = [c for c in a if c.split == "test"]
    assert not {c.voice for c in train} & {c.voice for c in test}
    assert {c.noise for c in train} <= set(TRAIN_KINDS) and {c.noise for c in test} <= set(TEST_KINDS)
    labels = commands.labels_for()
    assert [c.label for c in test] == labels * 2  # the test split is balanced
    for c in a:
        assert c.label in labels
        assert (c.word == "") == (c.label == "silence")
        assert c.word == c.label or c.label in ("unknown", "silence")
        assert c.label != "unknown" or c.word in commands.VOCABULARY and c.word not in commands.COMMANDS


def test_make_commands_renders_one_second_clips_and_resumes(tmp_path):
    info = commands.make_commands(tmp_path, n_train=12, n_val=0, n_test=12, seed=1, progress=False)
    rows = read_manifest(info.manifests["test"])
    assert [r.extra["label"] for r in rows] == info.labels
    for r in rows:
        audio, sr = sf.read(r.audio_filepath, dtype="float32")
        assert sr == 16000 and len(audio) == 16000 and r.duration == 1.0
        assert 0 < np.abs(audio).max() <= 1.0
    first = open(rows[0].audio_filepath, "rb").read()
    Path(rows[0].audio_filepath).unlink()
    again = commands.make_commands(tmp_path, n_train=12, n_val=0, n_test=12, seed=1, progress=False)
    assert open(read_manifest(again.manifests["test"])[0].audio_filepath, "rb").read() == first  # same draws
    with pytest.raises(ValueError, match="planned differently"):
        commands.make_commands(tmp_path, n_train=12, n_val=0, n_test=12, seed=2, progress=False)


def test_speech_frames_fill_short_pauses_and_drop_clicks():
    sr, shift = 16000, 0.02
    hop = int(sr * shift)
    on = [0] * 5 + [1] * 10 + [0] * 5 + [1] * 10 + [0] * 30 + [1] * 10 + [0] * 20 + [1] * 1 + [0] * 10
    wave = np.concatenate([np.sin(np.arange(hop) * 0.3) * v for v in on]).astype(np.float32)
    got = vad_corpus.speech_frames(wave, sr, shift).tolist()
    want = [0] * 5 + [1] * 25 + [0] * 30 + [1] * 10 + [0] * 31  # a 0.1 s pause filled, a 20 ms click dropped
    assert got == want


def test_vad_corpus_labels_frames_for_a_frame_classifier(tmp_path):
    info = vad_corpus.make_vad_corpus(tmp_path, n_train=3, n_val=0, n_test=2, seconds=3.0, seed=2, progress=False)
    index = {"0": 0, "1": 1}
    for split in ("train", "test"):
        for row in read_manifest(info.manifests[split]):
            labels = row.extra["label"].split()
            assert len(labels) == 150 and set(labels) <= {"0", "1"}  # 3 s of 20 ms frames
            assert len(label_ids(row, index, frames=True)) == 150
            audio, _ = sf.read(row.audio_filepath, dtype="float32")
            assert len(audio) == 48000
    mixtures = vad_corpus.plan({"train": 20, "val": 0, "test": 20}, seed=2)
    test_voices = {u.voice for m in mixtures if m.split == "test" for u in m.utterances}
    assert test_voices and not test_voices & {u.voice for m in mixtures if m.split == "train" for u in m.utterances}
    assert {m.bed for m in mixtures if m.split == "test"} - {""} <= set(TEST_KINDS)


def test_speech_is_louder_where_labelled(tmp_path):
    """Mixtures without a bed: frames labelled speech carry most of the energy."""
    info = vad_corpus.make_vad_corpus(tmp_path, n_train=6, n_val=0, n_test=0, seconds=4.0, seed=5, progress=False)
    checked = 0
    for row in read_manifest(info.manifests["train"]):
        labels = np.array(row.extra["label"].split(), dtype=int)
        if row.extra["bed"] != "none" or labels.sum() == 0 or labels.sum() == len(labels):
            continue
        audio, _ = sf.read(row.audio_filepath, dtype="float32")
        energy = (audio[: len(labels) * 320].reshape(len(labels), 320) ** 2).mean(1)
        assert energy[labels == 1].mean() > 3 * energy[labels == 0].mean()
        checked += 1
    assert checked


@pytest.mark.parametrize("kind", sorted(set(TRAIN_KINDS + TEST_KINDS)))
def test_backgrounds_are_finite_unit_level_sounds(kind):
    speech = [np.sin(np.arange(8000) * 0.05).astype(np.float32)]
    x = background(kind, 16000, 16000, np.random.default_rng(0), speech)
    assert x.shape == (16000,) and np.isfinite(x).all()
    assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0, rel=0.01)


def test_cli_synth_commands_and_vad(tmp_path, capsys):
    assert main(["data", "synth-commands", str(tmp_path / "c"), "--train", "4", "--val", "0", "--test", "3",
                 "--commands", "yes,no"]) == 0
    out = capsys.readouterr().out
    assert "labels: yes no unknown silence" in out
    rows = [json.loads(line) for line in open(tmp_path / "c" / "test_manifest.json")]
    assert [r["label"] for r in rows] == ["yes", "no", "unknown"]
    assert main(["data", "synth-vad", str(tmp_path / "v"), "--train", "1", "--val", "0", "--test", "1",
                 "--seconds", "2"]) == 0
    assert "speech frames" in capsys.readouterr().out
    assert main(["data", "synth-commands", str(tmp_path / "x"), "--commands", "yes,maybe"]) == 1
    assert "commands ['maybe']: choose from the Speech Commands vocabulary" in capsys.readouterr().err
