"""NeMo's speech-command (MatchboxNet) and VAD (MarbleNet) archives: MFCC front end and pooled head."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

import harken
from harken.audio.mfcc import dct_ortho, htk_mel_filterbank
from harken.models.archive import read_archive
from harken.models.classifier import SpeechClassifier

FIXTURES = ["matchboxnet", "marblenet_vad"]
TOL = 1e-4


def _wave(folder, name="probe.wav"):
    x, sr = sf.read(folder / name, dtype="float32")
    return torch.from_numpy(x)[None], torch.tensor([len(x)])


def test_filterbank_and_dct_equal_the_archived_buffers(nemo_fixture):
    state = read_archive(nemo_fixture("matchboxnet") / "model.nemo").state_dict
    fb = htk_mel_filterbank(257, 0.0, 8000.0, 64, 16000)
    assert (fb - state["preprocessor.featurizer.MelSpectrogram.mel_scale.fb"]).abs().max() < 1e-6
    assert (dct_ortho(64, 64) - state["preprocessor.featurizer.dct_mat"]).abs().max() < 1e-5


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("probe, suffix", [("probe.wav", ""), ("probe_1s.wav", "_1s")])
def test_stages_match_nemo(nemo_fixture, name, probe, suffix):
    folder = nemo_fixture(name)
    model = harken.load(folder / "model.nemo")
    assert isinstance(model, SpeechClassifier)
    x, xl = _wave(folder, probe)
    with torch.inference_mode():
        feats, flen = model.preprocessor(x, xl)
        logits = model(x, xl)
    assert np.abs(feats.numpy() - np.load(folder / f"features{suffix}.npy")).max() <= TOL
    assert np.abs(logits.numpy() - np.load(folder / f"logits{suffix}.npy")).max() <= TOL
    meta = json.loads((folder / "meta.json").read_text())
    expected = meta["transcribe_predictions"]["probe" if not suffix else "probe_1s"]["label"]
    assert model.transcribe([str(folder / probe)]) == [expected]


@pytest.mark.parametrize("name", FIXTURES)
def test_padded_batch_matches_nemo_and_classify_is_batch_independent(nemo_fixture, name):
    folder = nemo_fixture(name)
    model = harken.load(folder / "model.nemo")
    b, out = np.load(folder / "batch_inputs.npz"), np.load(folder / "batch_outputs.npz")
    audio, lengths = torch.from_numpy(b["input_signal"]), torch.from_numpy(b["input_signal_length"])
    with torch.inference_mode():
        feats, flen = model.preprocessor(audio, lengths)
        logits = model(audio, lengths)
    assert flen.tolist() == out["features_len"].tolist()
    assert np.abs(feats.numpy() - out["features"]).max() <= TOL
    assert np.abs(logits.numpy() - out["logits"]).max() <= TOL
    # harken's classify never pads a row with another row's length: row 1 equals row 1 alone
    rows = [audio[i, : int(n)].numpy() for i, n in enumerate(lengths)]
    together = model.classify(rows, batch_size=2)
    alone = model.classify([rows[1]], batch_size=1)
    assert torch.equal(together[1].logits, alone[0].logits)


def test_classifier_round_trip(nemo_fixture, tmp_path):
    model = harken.load(nemo_fixture("matchboxnet") / "model.nemo")
    model.save(tmp_path / "copy.nemo")
    again = harken.load(tmp_path / "copy.nemo")
    x = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    assert torch.equal(again.classify(x)[0].logits, model.classify(x)[0].logits)
    assert read_archive(tmp_path / "copy.nemo").config["target"].endswith("EncDecClassificationModel")


def test_frame_vad_matches_nemo(nemo_fixture):
    from harken.models.classifier import FrameClassifier

    folder = nemo_fixture("marblenet_frame_vad")
    model = harken.load(folder / "model.nemo")
    assert isinstance(model, FrameClassifier)
    for probe, suffix in (("probe.wav", ""), ("probe_1s.wav", "_1s")):
        x, xl = _wave(folder, probe)
        with torch.inference_mode():
            feats, _ = model.preprocessor(x, xl)
            logits = model(x, xl)
        assert np.abs(feats.numpy() - np.load(folder / f"features{suffix}.npy")).max() <= TOL
        assert np.abs(logits.numpy() - np.load(folder / f"logits{suffix}.npy")).max() <= TOL
    b, out = np.load(folder / "batch_inputs.npz"), np.load(folder / "batch_outputs.npz")
    with torch.inference_mode():
        logits = model(torch.from_numpy(b["input_signal"]), torch.from_numpy(b["input_signal_length"]))
    assert np.abs(logits.numpy() - out["logits"]).max() <= TOL
    meta = json.loads((folder / "meta.json").read_text())
    labels = model.frame_labels(str(folder / "probe.wav"))
    assert "".join(labels) == meta["frame_predictions_3s"][: len(labels)] and len(labels) == 150


def test_frame_vad_round_trip_keeps_loss_weights(nemo_fixture, tmp_path):
    folder = nemo_fixture("marblenet_frame_vad")
    model = harken.load(folder / "model.nemo")
    model.save(tmp_path / "vad.nemo")
    original, copy = read_archive(folder / "model.nemo"), read_archive(tmp_path / "vad.nemo")
    assert sorted(original.state_dict) == sorted(copy.state_dict)  # NeMo loads it strictly
    assert copy.config["target"].endswith("EncDecFrameClassificationModel")
    assert harken.load(tmp_path / "vad.nemo").transcribe([str(folder / "probe_1s.wav")]) == \
        model.transcribe([str(folder / "probe_1s.wav")])
