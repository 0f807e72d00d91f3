"""Transducer beam search against NeMo 3.0.0's `strategy: beam` (`search_type: default`, beam_size 4):
beam.json in the RNNT, TDT and hybrid fixtures (RNNT on the first 12 encoder frames, as NeMo's own search
is too slow on this random model for more; TDT on whole files). Also the config and CLI routes to it,
beam_size 1, and the per-frame token cap NeMo lacks."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch

import harken
from harken.cli.main import main as cli
from harken.decoding.transducer_beam import BeamTransducer
from harken.decoding.transducer_greedy import GreedyTransducer
from harken.inference.pipeline import Transcriber

from .conftest import NEMO
from .test_transducer_parity import _wave

TOL = 1e-4
RNNT, TDT, HYBRID = "fastconformer_rnnt_bpe", "fastconformer_tdt_bpe", "fastconformer_hybrid_tdt_ctc_bpe"
FIXTURES = [RNNT, TDT, HYBRID]
PROBES = {"probe": "probe.wav", "probe2_2s": "probe2_2s.wav"}
NEMO_BEAM = {"strategy": "beam", "beam": {"beam_size": 4, "search_type": "default", "return_best_hypothesis": True,
                                          "score_norm": True}}


@pytest.fixture(autouse=True)
def one_thread():
    """The search runs one tiny step at a time; on a busy machine a second torch thread makes each step wait."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models():
    return {name: harken.load(NEMO / name / "model.nemo") for name in FIXTURES}


def _beam_json(name):
    return json.loads((NEMO / name / "beam.json").read_text())


def _encoded(model, name, wav):
    """The encoder output NeMo's beam search saw: RNNT's cut to its first 12 frames."""
    with torch.inference_mode():
        enc, elen = model(*_wave(NEMO / name, wav), pad_to=0)
    if model.model_type == "rnnt":
        enc, elen = enc[:, :, :12], elen.clamp(max=12)
    return enc, elen


def _assert_nemo_beam(model, seq, want):
    assert seq.token_ids == want["y_sequence"]
    assert model.decode_text(seq) == want["text"]
    assert seq.num_frames == want["length"]
    assert seq.score == pytest.approx(want["score"], abs=TOL)
    if model.model_type == "tdt":  # NeMo's TDT beam timestamp is the frame a token ends on
        assert [f + d for f, d in zip(seq.frames, seq.durations)] == want["timestamp"]
    else:
        assert seq.frames == want["timestamp"] and seq.durations == [1] * len(seq.frames)


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("probe", PROBES)
def test_beam_search_matches_nemo(models, name, probe):
    model = models[name]
    with torch.inference_mode():
        (seq,) = BeamTransducer(beam_size=4)(model.heads, *_encoded(model, name, PROBES[probe]))
    _assert_nemo_beam(model, seq, _beam_json(name)[probe])


def test_rnnt_beam_differs_from_greedy_on_the_same_frames(models):
    model, want = models[RNNT], _beam_json(RNNT)
    with torch.inference_mode():
        (greedy,) = model.decode_encoded(*_encoded(model, RNNT, "probe.wav"))
    assert greedy.token_ids == want["greedy_same_frames_probe"]["y_sequence"]
    assert greedy.token_ids != want["probe"]["y_sequence"]


@pytest.mark.parametrize("name", FIXTURES)
def test_change_decoding_strategy_selects_the_beam_search(models, name):
    model = harken.load(NEMO / name / "model.nemo")
    model.change_decoding_strategy(NEMO_BEAM)
    search = model.search
    assert isinstance(search, BeamTransducer) and search.beam_size == 4 and search.score_norm
    assert model.cfg["decoding"]["strategy"] == "beam" and model.cur_decoder == "rnnt"
    want = _beam_json(name)
    with torch.inference_mode():
        for probe, wav in PROBES.items():
            (seq,) = model.decode_encoded(*_encoded(model, name, wav))
            _assert_nemo_beam(model, seq, want[probe])
    if model.model_type == "tdt":  # whole files, so transcribe() gives NeMo's beam texts too
        files = [str(NEMO / name / wav) for wav in PROBES.values()]
        assert model.transcribe(files, batch_size=2) == [want[p]["text"] for p in PROBES]
    model.change_decoding_strategy({"strategy": "greedy_batch", "greedy": {"max_symbols": 10}})
    assert isinstance(model.search, GreedyTransducer)


def test_beam_config_errors():
    model = harken.load(NEMO / TDT / "model.nemo")
    with pytest.raises(ValueError, match="beam_size"):
        model.change_decoding_strategy({"strategy": "beam", "beam": {"beam_size": 0}})
    with pytest.raises(NotImplementedError, match="best hypothesis only"):
        model.change_decoding_strategy({"strategy": "beam", "beam": {"beam_size": 4, "return_best_hypothesis": False}})
    with pytest.raises(NotImplementedError, match="maes"):
        model.change_decoding_strategy({"strategy": "maes", "beam": {"beam_size": 4}})
    model.change_decoding_strategy({"strategy": "beam"})  # NeMo's default beam_size, 4
    assert model.search.beam_size == 4
    with pytest.raises(ValueError):
        BeamTransducer(beam_size=0)


@pytest.mark.parametrize("name", [RNNT, TDT])
def test_decode_waves_takes_a_beam_search(models, name):
    model = models[name]
    with torch.inference_mode():
        (seq,) = model.decode_waves(*_wave(NEMO / name), decoding=BeamTransducer(beam_size=4))
    if name == TDT:
        _assert_nemo_beam(model, seq, _beam_json(name)["probe"])
    else:  # the whole file: NeMo's 12-frame result is where it starts
        assert seq.token_ids[:7] == _beam_json(name)["probe"]["y_sequence"] and seq.num_frames == 38


def test_beam_size_one(models):
    """TDT: NeMo's beam search with one beam, which lands on the greedy path (its score also counts the blanks
    and normalises tokens and durations apart). RNNT: NeMo switches to a greedy search with at most 5 tokens a
    frame, which here differs from the model's greedy decode (10 a frame)."""
    with torch.inference_mode():
        for name in (TDT, RNNT):
            model = models[name]
            for wav in PROBES.values():
                enc, elen = model(*_wave(NEMO / name, wav), pad_to=0)
                (one,) = BeamTransducer(beam_size=1)(model.heads, enc, elen)
                (greedy,) = model.decode_encoded(enc, elen)
                (five,) = GreedyTransducer(max_symbols=5)(model.heads, enc, elen)
                if name == TDT:
                    assert (one.token_ids, one.frames, one.durations) == (greedy.token_ids, greedy.frames,
                                                                          greedy.durations)
                else:
                    assert one == five
            if name == RNNT:
                assert one.token_ids != greedy.token_ids


@pytest.mark.parametrize("name", FIXTURES)
def test_results_are_well_formed(models, name):
    model = models[name]
    with torch.inference_mode():
        for beam in (2, 4):
            x, xl = _wave(NEMO / name)
            seqs = model.decode_waves(x, xl, decoding=BeamTransducer(beam_size=beam))
            for seq in seqs:
                assert seq.frames == sorted(seq.frames) and all(0 <= f < seq.num_frames for f in seq.frames)
                assert all(lp <= 0 for lp in seq.token_logprobs) and seq.score <= 0
                assert all(d in (model.durations or [1]) for d in seq.durations)


def test_max_symbols_per_step_caps_tokens_per_frame(models):
    model = models[RNNT]
    with torch.inference_mode():
        enc, elen = _encoded(model, RNNT, "probe2_2s.wav")
        uncapped = BeamTransducer(beam_size=4, max_symbols_per_step=None)(model.heads, enc, elen)
        assert uncapped == BeamTransducer(beam_size=4)(model.heads, enc, elen)  # the default cap changes nothing here
        full, full_len = model(*_wave(NEMO / RNNT), pad_to=0)
        for cap in (1, 3):
            (seq,) = BeamTransducer(beam_size=4, max_symbols_per_step=cap)(model.heads, full, full_len)
            assert max(Counter(seq.frames).values()) <= cap


def test_batch_rows_decode_as_alone(models):
    model = models[TDT]
    folder = NEMO / TDT
    from .test_transducer_parity import _batch

    with torch.inference_mode():
        enc, elen = model(*_batch(folder), pad_to=0)
        batched = BeamTransducer(beam_size=4)(model.heads, enc, elen)
    want = _beam_json(TDT)
    for seq, probe in zip(batched, PROBES):
        _assert_nemo_beam(model, seq, want[probe])


def test_transcriber_with_beam_gives_typed_results(models):
    model = models[HYBRID]
    files = [str(NEMO / HYBRID / wav) for wav in PROBES.values()]
    results = list(Transcriber(model, BeamTransducer(beam_size=4), batch_size=2)(files))
    assert [t.text for t in results] == [_beam_json(HYBRID)[p]["text"] for p in PROBES]
    for t in results:
        assert t.tokens and [tok.start for tok in t.tokens] == sorted(tok.start for tok in t.tokens)


def test_cli_beam_size_on_a_transducer(capsys):
    wav = str(NEMO / TDT / "probe.wav")
    model = str(NEMO / TDT / "model.nemo")
    assert cli(["transcribe", "--model", model, wav]) == 0
    assert capsys.readouterr().out == f"{wav}\t{_greedy_text(TDT)}\n"
    assert cli(["transcribe", "--model", model, "--beam-size", "4", wav]) == 0
    assert capsys.readouterr().out == f"{wav}\t{_beam_json(TDT)['probe']['text']}\n"
    for extra in (["--hotwords", "cat"], ["--lm", "missing.arpa"]):
        assert cli(["transcribe", "--model", model, "--beam-size", "4", *extra, wav]) == 1
        assert "not supported for transducer models" in capsys.readouterr().err


def test_decoder_from_args_picks_the_head(models):
    import argparse

    from harken.cli.decoding_options import add_decoding_arguments, decoder_from_args
    from harken.decoding.ctc_beam import BeamSearchDecoder

    p = argparse.ArgumentParser()
    add_decoding_arguments(p)
    model = harken.load(NEMO / HYBRID / "model.nemo")
    search = decoder_from_args(p.parse_args(["--beam-size", "3"]), model)
    assert isinstance(search, BeamTransducer) and search.beam_size == 3
    assert decoder_from_args(p.parse_args([]), model) is None
    with pytest.raises(ValueError, match="not supported for transducer"):
        decoder_from_args(p.parse_args(["--hotwords", "cat"]), model)
    model.change_decoding_strategy(decoder_type="ctc")  # the hybrid's CTC head takes the CTC search
    assert isinstance(decoder_from_args(p.parse_args(["--beam-size", "3"]), model), BeamSearchDecoder)


def _greedy_text(name):
    return json.loads((NEMO / name / "greedy.json").read_text())["probe"]["text"]
