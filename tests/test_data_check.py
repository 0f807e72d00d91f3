"""`harken data check` finds every planted defect, with its line, and --fix never touches the original."""

import json
import subprocess
import sys

import numpy as np
import soundfile as sf

from harken.data.check import check_manifest, fix
from harken.data.manifest import read_manifest

LABELS = list(" abcdefghijklmnopqrstuvwxyz'")


def _wav(path, seconds, sr=16000, channels=1):
    x = 0.1 * np.random.default_rng(0).standard_normal((int(seconds * sr), channels)).astype(np.float32)
    sf.write(path, x if channels > 1 else x[:, 0], sr)


def _broken_manifest(tmp_path):
    _wav(tmp_path / "good.wav", 1.0)
    _wav(tmp_path / "short.wav", 0.5)
    _wav(tmp_path / "other.wav", 0.5)
    _wav(tmp_path / "r8k.wav", 1.0, sr=8000)
    _wav(tmp_path / "stereo.wav", 1.0, channels=2)
    (tmp_path / "junk.wav").write_bytes(b"not audio at all" * 20)
    rows = [
        {"audio_filepath": "good.wav", "duration": 1.0, "text": "fine", "speaker": "a"},       # 1 ok
        {"audio_filepath": "missing.wav", "duration": 1.0, "text": "gone"},                    # 2 missing
        {"audio_filepath": "junk.wav", "duration": 1.0, "text": "junk"},                       # 3 unreadable
        {"audio_filepath": "short.wav", "duration": 3.0, "text": "too long"},                  # 4 duration
        {"audio_filepath": "r8k.wav", "duration": 1.0, "text": "narrow band", "speaker": "b"}, # 5 sample rate
        {"audio_filepath": "stereo.wav", "duration": 1.0, "text": "two channels"},             # 6 channels
        {"audio_filepath": "good.wav", "duration": 1.0, "text": "fine again"},                 # 7 duplicate
        {"audio_filepath": "other.wav", "duration": 0.5, "text": "   "},                       # 8 empty text
        {"audio_filepath": "short.wav", "duration": 0.5, "offset": 0.1, "text": "café ñ"},    # 9 OOV
    ]
    lines = [json.dumps(r) for r in rows] + ['{"audio_filepath": "good.wav", "duration": ']   # 10 bad JSON
    manifest = tmp_path / "broken.json"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def test_every_planted_defect_is_found_with_its_line(tmp_path):
    manifest = _broken_manifest(tmp_path)
    report = check_manifest(manifest, labels=LABELS, sample_rate=16000)
    found = {(p.line, p.severity, p.message.split(":")[0].split(" (")[0]) for p in report.problems}
    expected = {
        (2, "error", "audio missing"), (3, "error", "audio unreadable"), (4, "error", "duration mismatch"),
        (5, "warning", "sample rate 8000 Hz"), (6, "warning", "2 channels"), (7, "error", "duplicate of line 1"),
        (8, "error", "empty text"), (9, "error", "characters outside the labels"), (10, "error", "malformed row"),
    }
    assert found == expected
    assert all(line.startswith(f"{manifest}:") for line in report.lines())
    assert report.rows == 10 and len(report.speakers) == 2
    assert "duration histogram" in report.summary()


def test_fix_writes_a_clean_copy_and_keeps_the_original(tmp_path):
    manifest = _broken_manifest(tmp_path)
    before = manifest.read_bytes()
    report = check_manifest(manifest, labels=LABELS, sample_rate=16000)
    out = fix(report, tmp_path / "clean.json")
    assert manifest.read_bytes() == before
    clean = read_manifest(out)
    assert [e.text for e in clean] == ["fine", "too long", "narrow band", "two channels"]
    assert clean[1].duration == 0.5  # corrected from the audio
    assert check_manifest(out, labels=LABELS).errors == []


def test_cli_check_and_exit_status(tmp_path):
    manifest = _broken_manifest(tmp_path)
    run = subprocess.run([sys.executable, "-m", "harken", "data", "check", str(manifest), "--labels", "".join(LABELS),
                          "--sample-rate", "16000"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and f"{manifest}:2: error: audio missing" in run.stdout
    run = subprocess.run([sys.executable, "-m", "harken", "data", "check", str(manifest), "--fix",
                          str(tmp_path / "c.json")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and (tmp_path / "c.json").exists()


def test_tokenizer_training_from_manifests(tmp_path):
    import harken

    rows = [{"audio_filepath": "x.wav", "duration": 1.0, "text": t} for t in
            ["the cat sat on the mat", "a dog ran to the park", "seven eight nine", "go back and start over"] * 5]
    manifest = tmp_path / "m.json"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "tok"
    run = subprocess.run([sys.executable, "-m", "harken", "tokenizer", "train", "--manifest", str(manifest),
                          "--vocab-size", "40", "--type", "bpe", "--out", str(out)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert (out / "tokenizer.model").exists() and len((out / "vocab.txt").read_text().split()) == 40
    from harken.text.bpe_tokenizer import BPETokenizer

    tok = BPETokenizer((out / "tokenizer.model").read_bytes())
    assert tok.decode(tok.encode("the cat ran")) == "the cat ran"
    model = harken.ASRModel.from_config(__import__("harken.configs", fromlist=["x"]).load_named_config("quick"))
    model.change_vocabulary(out)  # NeMo's tokenizer folder layout
    assert model.blank_id == 40
