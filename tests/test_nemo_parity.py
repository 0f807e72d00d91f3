"""harken against outputs the real NeMo 3.0 computed for the same weights and waveforms."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

import harken
from harken.audio.mel import MelSpectrogramPreprocessor, slaney_mel_filterbank
from harken.models.archive import read_archive

CTC_FIXTURES = [
    "quartznet_tiny", "jasper_dr", "quartznet_se", "citrinet_bpe", "conformer_ctc_bpe", "fastconformer_ctc_bpe",
]
TOL = 1e-4


def _probe(folder):
    x, sr = sf.read(folder / "probe.wav", dtype="float32")
    assert sr == 16000
    return torch.from_numpy(x)[None], torch.tensor([len(x)])


def test_mel_features_match_nemo(nemo_fixture):
    folder = nemo_fixture("quartznet_tiny")
    pre = MelSpectrogramPreprocessor(features=64).eval()  # NeMo's defaults, nothing loaded
    feats, lens = pre(*_probe(folder))
    ref = np.load(folder / "features.npy")
    assert feats.shape == ref.shape == (1, 64, 304)
    assert lens.tolist() == np.load(folder / "features_len.npy").tolist() == [300]
    assert np.abs(feats.numpy() - ref).max() <= TOL
    assert (feats[0, :, 300:] == 0).all()  # frames past the valid length are zeroed


def test_mel_batch_padding_matches_nemo(nemo_fixture):
    folder = nemo_fixture("quartznet_tiny")
    b, out = np.load(folder / "batch_inputs.npz"), np.load(folder / "batch_outputs.npz")
    pre = MelSpectrogramPreprocessor(features=64).eval()
    feats, lens = pre(torch.from_numpy(b["input_signal"]), torch.from_numpy(b["input_signal_length"]))
    assert lens.tolist() == out["features_len"].tolist()
    assert np.abs(feats.numpy() - out["features"]).max() <= TOL


def test_filterbank_equals_nemo_buffer(nemo_fixture):
    state = read_archive(nemo_fixture("quartznet_tiny") / "model.nemo").state_dict
    fb = slaney_mel_filterbank(16000, 512, 64, 0.0, 8000.0)
    assert np.abs(fb - state["preprocessor.featurizer.fb"][0].numpy()).max() < 1e-7


@pytest.mark.parametrize("name", CTC_FIXTURES)
def test_ctc_fixture_stages_match_nemo(nemo_fixture, name):
    folder = nemo_fixture(name)
    model = harken.load(folder / "model.nemo")
    x, xl = _probe(folder)
    with torch.inference_mode():
        feats, flen = model.preprocessor(x, xl)
        enc, elen = model.encoder(feats, flen)
        log_probs, enc_len, greedy = model(x, xl)
    assert np.abs(enc.numpy() - np.load(folder / "encoded.npy")).max() <= TOL
    assert elen.tolist() == np.load(folder / "encoded_len.npy").tolist()
    assert np.abs(log_probs.numpy() - np.load(folder / "logprobs.npy")).max() <= TOL
    meta = json.loads((folder / "meta.json").read_text())
    assert model.decode(log_probs, enc_len)[0] == meta["forward_greedy_text"]


@pytest.mark.parametrize("name", CTC_FIXTURES)
def test_ctc_fixture_padded_batch_matches_nemo(nemo_fixture, name):
    folder = nemo_fixture(name)
    model = harken.load(folder / "model.nemo")
    b, out = np.load(folder / "batch_inputs.npz"), np.load(folder / "batch_outputs.npz")
    with torch.inference_mode():
        log_probs, enc_len, _ = model(torch.from_numpy(b["input_signal"]), torch.from_numpy(b["input_signal_length"]))
    assert enc_len.tolist() == out["encoded_len"].tolist()
    assert np.abs(log_probs.numpy() - out["logprobs"]).max() <= TOL


@pytest.mark.parametrize("name", CTC_FIXTURES)
def test_transcribe_matches_nemo(nemo_fixture, name):
    folder = nemo_fixture(name)
    model = harken.load(folder / "model.nemo")
    meta = json.loads((folder / "meta.json").read_text())
    hyp = model.transcribe([str(folder / "probe.wav")], batch_size=1, return_hypotheses=True)[0]
    assert hyp.text == meta["transcribe_text"]
    ref = np.load(folder / "transcribe_logprobs.npy")
    assert hyp.log_probs.shape == ref.shape
    assert np.abs(hyp.log_probs.numpy() - ref).max() <= TOL
    texts = model.transcribe([str(folder / "probe.wav"), str(folder / "probe2_2s.wav")], batch_size=2)
    assert texts == meta["transcribe_batch2_texts"]


def test_transcribe_leaves_model_state_alone(nemo_fixture):
    """NeMo's transcribe() leaves encoder/decoder in train mode; harken restores every module's mode."""
    model = harken.load(nemo_fixture("quartznet_tiny") / "model.nemo")
    model.train()
    model.encoder.eval()
    before = {n: m.training for n, m in model.named_modules()}
    model.transcribe(np.zeros(16000, dtype=np.float32))
    assert {n: m.training for n, m in model.named_modules()} == before
    assert model.preprocessor.featurizer.dither == 1e-5 and model.preprocessor.featurizer.pad_to == 16
