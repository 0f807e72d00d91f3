"""Transducers (RNNT, TDT, hybrid TDT + CTC) against NeMo 3.0.0: every stage, greedy decoding (ids, frames,
durations, score), `transcribe(timestamps=True)`, the hybrid's CTC head, archives, and the typed pipeline.

The fixtures (tests/data/nemo/fastconformer_{rnnt,tdt,hybrid_tdt_ctc}_bpe) are copied from
shared/fixtures/nemo; `batch_outputs.npz` keeps only the encoder and CTC outputs of the originals.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

import harken
from harken.inference.pipeline import Transcriber
from harken.models.archive import ArchiveError, read_archive
from harken.models.ctc_model import CTCModel
from harken.models.transducer_model import TransducerModel

from .conftest import NEMO

TOL = 1e-4
FIXTURES = ["fastconformer_rnnt_bpe", "fastconformer_tdt_bpe", "fastconformer_hybrid_tdt_ctc_bpe"]
HYBRID = "fastconformer_hybrid_tdt_ctc_bpe"


@pytest.fixture(scope="module")
def models():
    return {name: harken.load(NEMO / name / "model.nemo") for name in FIXTURES}


def _wave(folder, name="probe.wav"):
    x, _ = sf.read(folder / name, dtype="float32")
    return torch.from_numpy(x)[None], torch.tensor([len(x)])


def _batch(folder):
    """NeMo's padded batch: probe.wav, and probe2_2s.wav zero-padded to 3 s (as its batch_inputs.npz)."""
    a, _ = sf.read(folder / "probe.wav", dtype="float32")
    b, _ = sf.read(folder / "probe2_2s.wav", dtype="float32")
    x = np.zeros((2, len(a)), np.float32)
    x[0], x[1, : len(b)] = a, b
    return torch.from_numpy(x), torch.tensor([len(a), len(b)])


def _greedy(name):
    return json.loads((NEMO / name / "greedy.json").read_text())


def _diff(a: torch.Tensor, b: np.ndarray) -> float:
    assert tuple(a.shape) == b.shape
    return float(np.abs(a.numpy() - b).max())


@pytest.mark.parametrize("name", FIXTURES)
def test_loads_as_a_transducer(models, name):
    model = models[name]
    assert isinstance(model, TransducerModel)
    assert (model.ctc_decoder is not None) == (name == HYBRID)
    assert model.model_type == ("rnnt" if name == "fastconformer_rnnt_bpe" else "tdt")
    assert model.blank_id == 64 and model.frame_shift == pytest.approx(0.08)
    with pytest.raises(ArchiveError, match="not a CTCModel"):
        CTCModel.load(NEMO / name / "model.nemo")


@pytest.mark.parametrize("name", FIXTURES)
def test_features_and_encoder_match_nemo(models, name):
    folder, model = NEMO / name, models[name]
    x, xl = _wave(folder)
    with torch.inference_mode():
        feats, flen = model.preprocessor(x, xl)
        enc, elen = model(x, xl)
    assert _diff(feats, np.load(folder / "features.npy")) <= TOL
    assert flen.tolist() == np.load(folder / "features_len.npy").tolist()
    assert _diff(enc, np.load(folder / "encoded.npy")) <= TOL
    assert elen.tolist() == np.load(folder / "encoded_len.npy").tolist()


@pytest.mark.parametrize("name", FIXTURES)
def test_prediction_network_and_joint_match_nemo(models, name):
    model, ref = models[name], np.load(NEMO / name / "joint_check.npz")
    with torch.inference_mode():
        g, g_len, (h, c) = model.decoder(torch.from_numpy(ref["targets"]), torch.from_numpy(ref["target_length"]))
        f = torch.from_numpy(ref["encoder_frames"]).transpose(1, 2)
        enc_proj, pred_proj = model.joint.project_encoder(f), model.joint.project_prednet(g.transpose(1, 2))
        raw = model.joint.joint_logits(enc_proj[:, :, None], pred_proj[:, None])
        out = model.joint.joint(f, g.transpose(1, 2))
        fwd = model.joint(torch.from_numpy(ref["encoder_frames"]), g)
    assert _diff(g, ref["prednet_out"]) <= TOL and g_len.tolist() == ref["target_length"].tolist()
    assert _diff(h, ref["prednet_h"]) <= TOL and _diff(c, ref["prednet_c"]) <= TOL
    assert _diff(enc_proj, ref["enc_proj"]) <= TOL and _diff(pred_proj, ref["pred_proj"]) <= TOL
    assert _diff(raw, ref["joint_logits_raw"]) <= TOL
    assert _diff(out, ref["joint_out"]) <= TOL  # CPU: log_softmax over tokens and durations together
    assert torch.equal(fwd, out)


def _assert_same_decode(model, seq, want: dict, durations: list[int] | None = None):
    assert seq.token_ids == want["y_sequence"]
    assert seq.frames == want["timestamp"]
    assert seq.num_frames == want["length"]
    assert model.decode_text(seq) == want["text"]
    assert seq.score == pytest.approx(want["score"], abs=TOL)
    if durations is not None:
        assert seq.durations == durations
    assert all(lp <= 0 for lp in seq.token_logprobs)


@pytest.mark.parametrize("name", FIXTURES)
def test_greedy_decoding_matches_nemo(models, name):
    folder, model, greedy = NEMO / name, models[name], _greedy(name)
    with torch.inference_mode():
        (seq,) = model.decode_waves(*_wave(folder))
    tdt = model.model_type == "tdt"
    durations = greedy["probe_replay"]["durations"] if tdt else [1] * len(seq.token_ids)
    _assert_same_decode(model, seq, greedy["probe"], durations)
    if not tdt:  # RNNT: token log-probs are the joint outputs that make up the score
        assert sum(seq.token_logprobs) == pytest.approx(seq.score, abs=TOL)


@pytest.mark.parametrize("name", FIXTURES)
def test_padded_batch_matches_nemo(models, name):
    folder, model, greedy = NEMO / name, models[name], _greedy(name)
    out = np.load(folder / "batch_outputs.npz")
    x, xl = _batch(folder)
    with torch.inference_mode():
        enc, elen = model(x, xl)
        seqs = model.decode_encoded(enc, elen)
        (alone,) = model.decode_waves(*_wave(folder, "probe2_2s.wav"))
    assert elen.tolist() == out["encoded_len"].tolist()
    assert _diff(enc, out["encoded"]) <= TOL
    for seq, want in zip(seqs, greedy["batch"]):
        _assert_same_decode(model, seq, want)
    _assert_same_decode(model, alone, greedy["row1_alone"])
    assert seqs[1].token_ids == alone.token_ids and seqs[1].frames == alone.frames
    assert seqs[1].durations == alone.durations


def assert_same_timestamps(got: dict, want: dict):
    assert got["timestep"] == want["timestep"]
    for level in ("char", "word", "segment"):
        assert len(got[level]) == len(want[level]), level
        for g, w in zip(got[level], want[level]):
            assert g.keys() == w.keys()
            for key, value in w.items():
                if isinstance(value, float):
                    assert g[key] == pytest.approx(value, abs=1e-9), (level, key, g, w)
                else:
                    assert g[key] == value, (level, key, g, w)


@pytest.mark.parametrize("name", FIXTURES)
def test_transcribe_timestamps_equal_nemo(models, name):
    folder, model = NEMO / name, models[name]
    want = json.loads((folder / "timestamps.json").read_text())["rnnt"]["probe"]
    before = json.dumps(model.cfg, sort_keys=True)
    hyp = model.transcribe([str(folder / "probe.wav")], batch_size=1, timestamps=True)[0]
    assert hyp.text == want["text"] and hyp.y_sequence == want["y_sequence"]
    assert hyp.score == pytest.approx(want["score"], abs=TOL)
    assert_same_timestamps(hyp.timestamp, want["timestamp"])
    assert json.dumps(model.cfg, sort_keys=True) == before  # NeMo writes compute_timestamps into its config
    texts = model.transcribe([str(folder / "probe.wav"), str(folder / "probe2_2s.wav")], batch_size=2)
    assert texts == [r["text"] for r in _greedy(name)["batch"]]


def test_hybrid_ctc_head_matches_nemo():
    folder = NEMO / HYBRID
    model = harken.load(folder / "model.nemo")
    out = np.load(folder / "batch_outputs.npz")
    x, xl = _wave(folder)
    with torch.inference_mode():
        enc, _ = model(x, xl)
        assert _diff(model.ctc_decoder(enc), np.load(folder / "ctc_logprobs.npy")) <= TOL
        benc, _ = model(*_batch(folder))
        assert _diff(model.ctc_decoder(benc), out["ctc_logprobs"]) <= TOL
    want = json.loads((folder / "timestamps.json").read_text())["ctc"]["probe"]
    before = json.dumps(model.cfg, sort_keys=True)
    model.change_decoding_strategy(decoder_type="ctc")
    assert model.cur_decoder == "ctc" and model.timestamp_kind == "ctc"
    hyp = model.transcribe([str(folder / "probe.wav")], timestamps=True)[0]
    assert hyp.text == want["text"] and hyp.score == pytest.approx(want["score"], abs=TOL)
    assert_same_timestamps(hyp.timestamp, want["timestamp"])
    assert _diff(hyp.log_probs, np.load(folder / "ctc_transcribe_logprobs.npy")) <= TOL
    assert json.dumps(model.cfg, sort_keys=True) == before  # choosing a head is not a config change
    model.change_decoding_strategy(decoder_type="rnnt")
    assert model.transcribe([str(folder / "probe.wav")]) == [_greedy(HYBRID)["probe"]["text"]]


def test_change_decoding_strategy_keeps_what_describes_the_model():
    model = harken.load(NEMO / HYBRID / "model.nemo")
    model.change_decoding_strategy({"strategy": "greedy", "greedy": {"max_symbols": 3}})
    assert model.cfg["decoding"]["model_type"] == "tdt" and model.cfg["decoding"]["durations"] == [0, 1, 2, 3, 4]
    assert model.max_symbols == 3 and model.cur_decoder == "rnnt"
    with pytest.raises(NotImplementedError, match="beam"):
        model.change_decoding_strategy({"strategy": "maes"})
    with pytest.raises(ValueError, match="no CTC head"):
        harken.load(NEMO / "fastconformer_tdt_bpe" / "model.nemo").change_decoding_strategy(decoder_type="ctc")


@pytest.mark.parametrize("name", FIXTURES)
def test_archive_round_trip(models, name, tmp_path):
    folder, model = NEMO / name, models[name]
    path = tmp_path / "again.nemo"
    model.save(path)
    original, again = read_archive(folder / "model.nemo"), read_archive(path)
    assert sorted(again.state_dict) == sorted(original.state_dict)  # NeMo's names (its order differs)
    assert all(torch.equal(again.state_dict[k], v) for k, v in original.state_dict.items())
    cfg = again.config
    assert cfg["target"] == original.config["target"]
    for section in (cfg["preprocessor"], cfg["encoder"], cfg["decoder"], cfg["joint"],
                    *([cfg["aux_ctc"]["decoder"]] if "aux_ctc" in cfg else [])):
        assert section["_target_"].startswith("nemo.collections.asr.modules.")
    reloaded = harken.load(path)
    wav = str(folder / "probe.wav")
    a = model.transcribe([wav], timestamps=True)[0]
    b = reloaded.transcribe([wav], timestamps=True)[0]
    assert (a.text, a.score, a.timestamp) == (b.text, b.score, b.timestamp)


@pytest.mark.parametrize("name", FIXTURES)
def test_transcriber_gives_typed_results_inside_the_audio(models, name):
    model = models[name]
    files = [str(NEMO / name / "probe.wav"), str(NEMO / name / "probe2_2s.wav")]
    for f, t in zip(files, Transcriber(model, batch_size=2)(files)):
        duration = sf.info(f).duration
        assert t.duration == pytest.approx(duration, abs=1e-3) and t.source == f
        assert t.text == model.transcribe([f])[0]
        tokens = t.tokens
        assert tokens
        for a, b in zip(tokens, tokens[1:]):  # transducers emit several tokens on one frame
            assert a.start <= b.start
        assert all(0 <= tok.start < tok.end <= duration + 1e-9 and 0 <= tok.confidence <= 1 for tok in tokens)
        assert " ".join(w.word for w in t.words) == " ".join(t.text.split())
        assert all(0 <= w.start < w.end <= duration + 1e-9 for w in t.words)
        assert [s.start for s in t.segments] == sorted(s.start for s in t.segments)
        json.dumps(t.to_dict())


def test_searches_go_to_their_own_head():
    from harken.decoding.ctc_beam import BeamSearchDecoder

    model = harken.load(NEMO / HYBRID / "model.nemo")
    wav = str(NEMO / HYBRID / "probe.wav")
    beam = BeamSearchDecoder.for_model(model, beam_size=4)
    with pytest.raises(ValueError, match="not a transducer search.*decoder_type='ctc'"):
        model.transcribe([wav], decoding=beam)
    model.change_decoding_strategy(decoder_type="ctc")
    (text,) = model.transcribe([wav], decoding=beam)  # runs on the CTC head's log-probs
    assert isinstance(text, str) and text
