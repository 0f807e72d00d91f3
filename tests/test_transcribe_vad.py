"""`harken transcribe --vad`: a long recording is cut where the (shipped) VAD finds speech, each region is
decoded alone, and words come back on the recording's own timeline (a manifest row's offset included)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import harken.inference.speech_detection as speech_detection
from harken.audio.io import save_wav
from harken.cli.main import main
from harken.pretrained.catalog import BUNDLED_DIR, DEFAULT_VAD_MODEL
from harken.synth.espeak import speak

SR = 16000
pytestmark = pytest.mark.skipif(not (BUNDLED_DIR / f"{DEFAULT_VAD_MODEL}.nemo").exists(),
                                reason="the shipped VAD model is not in this checkout")


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """9.5 s: quiet noise, 'open the door' at 2 s, 'seven three nine' at 6 s (returns path, utterance spans)."""
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(int(9.5 * SR)) * 0.002).astype(np.float32)
    spans = []
    for start, text in ((2.0, "open the door"), (6.0, "seven three nine")):
        wave = speak(text, "en-us", 160, 50, SR) * 0.5
        i = int(start * SR)
        audio[i:i + len(wave)] += wave
        spans.append((start, start + len(wave) / SR))
    path = tmp_path_factory.mktemp("vad") / "long.wav"
    save_wav(path, audio, SR)
    return path, spans


@pytest.mark.parametrize("chunk", [["--chunk-seconds", "3"], []], ids=["long", "short"])
def test_vad_regions_drive_the_transcript_and_times_stay_absolute(recording, tmp_path, monkeypatch, chunk):
    """Long (over 2 x --chunk-seconds) or not, an input is cut where the VAD hears speech."""
    path, spans = recording
    found = []
    real = speech_detection.detect_speech

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        found.append([(s.start, s.end) for s in result.spans])
        return result

    monkeypatch.setattr(speech_detection, "detect_speech", spy)
    manifest = tmp_path / "m.json"  # the input starts 1 s into the file
    manifest.write_text(json.dumps({"audio_filepath": str(path), "offset": 1.0, "duration": 8.5}) + "\n")
    out = tmp_path / "out"
    assert main(["transcribe", "--manifest", str(manifest), "--vad", *chunk, "--format", "json",
                 "--output-dir", str(out)]) == 0
    assert len(found) == 1 and len(found[0]) >= 2  # the VAD was asked, and heard both utterances
    for (start, end), (s, e) in zip(found[0], spans):  # VAD times are relative to the input (offset 1 s)
        assert abs(start + 1.0 - s) < 0.4 and abs(end + 1.0 - e) < 0.4, (found, spans)
    words = json.loads((out / "long.json").read_text())["words"]
    assert words
    for w in words:  # every word inside an utterance, in the file's timeline
        assert any(s - 0.3 <= w["start"] and w["end"] <= e + 0.3 for s, e in spans), (w, spans)
    assert {any(s - 0.3 <= w["start"] <= e for w in words) for s, e in spans} == {True}


def test_vad_model_that_is_not_a_vad_is_refused(recording, capsys):
    path, _ = recording
    assert main(["transcribe", str(path), "--vad-model", "harken_en_small"]) == 1
    assert "VAD needs a MarbleNet-style VAD .nemo" in capsys.readouterr().err


def test_harken_vad_defaults_to_the_shipped_model(recording, capsys):
    path, spans = recording
    assert main(["vad", str(path)]) == 0
    segments = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert len(segments) >= 2
    for (s, e), (_, start, end) in zip(spans, segments):
        assert abs(float(start) - s) < 0.4 and abs(float(end) - e) < 0.4, (segments, spans)


@pytest.mark.skipif(not (BUNDLED_DIR / "harken_commands_en.nemo").exists(), reason="no shipped commands model")
def test_harken_classify_defaults_to_the_shipped_commands_model(tmp_path, capsys):
    wave = np.zeros(SR, np.float32)
    word = speak("stop", "en-us", 160, 50, SR)[:SR] * 0.5
    wave[2000:2000 + len(word[:SR - 2000])] += word[:SR - 2000]
    save_wav(tmp_path / "stop.wav", wave, SR)
    save_wav(tmp_path / "quiet.wav", (np.random.default_rng(0).standard_normal(SR) * 1e-4).astype(np.float32), SR)
    assert main(["classify", str(tmp_path / "stop.wav"), str(tmp_path / "quiet.wav"), "--top-k", "2"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [r[1] for r in rows] == ["stop", "silence"]
