"""`harken data prepare`: each corpus kind on a tiny fixture built here in the real layout."""

import io
import json
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import soundfile as sf

from harken.data.manifest import read_manifest
from harken.data.prepare import prepare
from harken.data.prepare.source import extract
from tests.test_pretrained import _Server

SR = 16000


def _audio(path, seconds=0.5, sr=SR, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    x = (0.1 * np.sin(2 * np.pi * 300 * np.arange(int(seconds * sr)) / sr)).astype(np.float32)
    sf.write(path, x, sr, **kw)
    return path


def _an4(root):
    etc = root / "an4" / "etc"
    etc.mkdir(parents=True)
    for split, folder, spk, utt, words in (("train", "an4_clstk", "fash", "an251-fash-b", "RUBOUT G M E F THREE NINE"),
                                           ("test", "an4test_clstk", "fcaw", "cen1-fcaw-b", "ENTER SIX")):
        _audio(root / "an4" / "wav" / folder / spk / f"{utt}.sph", format="NIST", subtype="PCM_16")
        (etc / f"an4_{split}.transcription").write_text(f"<s> {words} </s> ({utt})\n")
        (etc / f"an4_{split}.fileids").write_text(f"{spk}/{utt}\n")


def test_an4_from_a_url_archive(tmp_path):
    _an4(tmp_path / "src")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(tmp_path / "src" / "an4", arcname="an4")
    server = _Server({"/an4.tar.gz": buf.getvalue()})
    try:
        out = prepare("an4", f"{server.url}/an4.tar.gz", tmp_path / "out", progress=False)
    finally:
        server.httpd.shutdown()
    train, test = read_manifest(out["train"]), read_manifest(out["test"])
    assert [e.text for e in train] == ["rubout g m e f three nine"] and [e.text for e in test] == ["enter six"]
    info = sf.info(train[0].audio_filepath)
    assert info.format == "WAV" and info.samplerate == SR and abs(info.duration - 0.5) < 0.01


def test_librispeech(tmp_path):
    chapter = tmp_path / "LibriSpeech" / "dev-clean" / "84" / "121123"
    for n in range(2):
        _audio(chapter / f"84-121123-000{n}.flac", seconds=0.4 + 0.1 * n)
    (chapter / "84-121123.trans.txt").write_text("84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS\n")
    out = prepare("librispeech", str(tmp_path / "LibriSpeech"), tmp_path / "out", progress=False)
    rows = read_manifest(out["dev-clean"])
    assert [(e.text, e.duration, e.extra["speaker"]) for e in rows] == [("go do you hear", 0.4, "84"),
                                                                         ("but in less", 0.5, "84")]


def test_speech_commands_ten_plus_two(tmp_path):
    root = tmp_path / "sc"
    for word in ("yes", "no", "bed"):
        for i in range(4):
            _audio(root / word / f"{i:08x}_nohash_0.wav", seconds=1.0)
    _audio(root / "_background_noise_" / "white_noise.wav", seconds=6.0)
    (root / "validation_list.txt").write_text("yes/00000001_nohash_0.wav\nbed/00000001_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("no/00000002_nohash_0.wav\n")
    out = prepare("speech_commands", str(root), tmp_path / "out", progress=False, classes="10+2")
    labels = {split: [e.extra["label"] for e in read_manifest(p)] for split, p in out.items()}
    assert sorted(set(labels["train"])) == ["no", "silence", "unknown", "yes"]
    assert labels["val"].count("yes") == 1 and labels["val"].count("unknown") == 1
    assert labels["test"] == ["no", "silence"]
    silence = [e for e in read_manifest(out["train"]) if e.extra["label"] == "silence"]
    assert silence and all(e.duration == 1.0 and e.audio_filepath.endswith("white_noise.wav") for e in silence)
    every = prepare("speech_commands", str(root), tmp_path / "all", progress=False)
    assert "bed" in {e.extra["label"] for e in read_manifest(every["train"])}


def test_commonvoice_mp3(tmp_path):
    root = tmp_path / "cv"
    _audio(root / "clips" / "common_voice_en_1.mp3", seconds=1.0, format="MP3")
    header = "client_id\tpath\tsentence\tup_votes\n"
    (root / "train.tsv").write_text(header + "abc\tcommon_voice_en_1.mp3\tHello there.\t2\n")
    (root / "dev.tsv").write_text(header)
    out = prepare("commonvoice", str(root), tmp_path / "out", progress=False)
    (row,) = read_manifest(out["train"])
    assert row.text == "Hello there." and row.extra["speaker"] == "abc"
    assert sf.info(row.audio_filepath).samplerate == SR and "dev" not in out


def test_kaldi_with_segments_and_pipeline_refusal(tmp_path):
    root = tmp_path / "data"
    rec = _audio(tmp_path / "rec1.wav", seconds=3.0)
    root.mkdir()
    (root / "wav.scp").write_text(f"rec1 {rec}\n")
    (root / "text").write_text("u1 hello world\nu2 good bye\n")
    (root / "segments").write_text("u1 rec1 0.00 1.20\nu2 rec1 1.50 2.75\n")
    (root / "utt2spk").write_text("u1 spk1\nu2 spk2\n")
    rows = read_manifest(prepare("kaldi", str(root), tmp_path / "out", progress=False)["all"])
    assert [(e.text, e.offset, e.duration, e.extra["speaker"]) for e in rows] == [
        ("hello world", 0.0, 1.2, "spk1"), ("good bye", 1.5, 1.25, "spk2")]
    (root / "wav.scp").write_text(f"rec1 {rec}\nrec2 sox in.wav -t wav - |\n")
    with pytest.raises(ValueError, match=r"wav\.scp:2: rec2 is a command pipeline"):
        prepare("kaldi", str(root), tmp_path / "out2", progress=False)


def test_folder_and_cli(tmp_path):
    root = tmp_path / "f"
    _audio(root / "a.wav")
    (root / "a.txt").write_text("first  one\n")
    _audio(root / "sub" / "b.flac")
    (root / "sub" / "b.txt").write_text("second")
    _audio(root / "c.wav")  # no transcript: skipped
    run = subprocess.run([sys.executable, "-m", "harken", "data", "prepare", "folder", str(root), str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in (tmp_path / "o" / "all_manifest.json").read_text().splitlines()]
    assert [r["text"] for r in rows] == ["first one", "second"] and "skipped 1" in run.stdout


def test_archive_extraction_refuses_traversal(tmp_path):
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ValueError, match="escapes the archive"):
        extract(bad, tmp_path / "x")
    assert not (tmp_path / "escape.txt").exists()
