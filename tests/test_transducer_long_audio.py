"""Transducers on long audio (inference/long_audio.py): greedy search carried across pieces of encoder
frames gives exactly the one-piece search, and windowed encoding of a long recording with a local-attention
FastConformer gives the whole recording's tokens."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

import harken
from harken.core.inference_mode import inference_mode
from harken.decoding.transducer_beam import BeamTransducer
from harken.decoding.transducer_greedy import transducer_greedy, transducer_greedy_carried
from harken.inference.inputs import AudioInput
from harken.inference.long_audio import decode_long
from harken.inference.pipeline import Transcriber
from tests.conftest import NEMO
from tests.test_transducer_greedy import BLANK, ScriptedStep, scores

FAMILIES = ["fastconformer_rnnt_bpe", "fastconformer_tdt_bpe", "fastconformer_hybrid_tdt_ctc_bpe"]


def carried(step, enc, cuts, max_symbols=10):
    """Greedy over enc [1, C, T] cut at `cuts`, the state carried; tokens shifted back onto the whole grid."""
    ids, frames, durations, lps, score, carry = [], [], [], [], 0.0, None
    for a, b in zip([0, *cuts], [*cuts, enc.shape[2]]):
        (seq,), carry = transducer_greedy_carried(step, enc[:, :, a:b], torch.tensor([b - a]), max_symbols, carry)
        seq = seq.shifted(a)
        ids += seq.token_ids
        frames += seq.frames
        durations += seq.durations
        lps += seq.token_logprobs
        score += seq.score
    return ids, frames, durations, lps, score


def test_tdt_duration_that_jumps_past_a_cut_is_carried():
    step = ScriptedStep(durations=[0, 1, 3])
    enc = scores([(0, 2), (BLANK, 0), (BLANK, 0), (1, 1), (BLANK, 1), (0, 0), (BLANK, 1)])
    (want,) = transducer_greedy(step, enc, torch.tensor([7]), max_symbols=2)
    assert want.frames[:2] == [0, 3]  # the first token jumps from frame 0 over frames 1 and 2
    for cuts in ([1], [2], [1, 2], [1, 2, 3, 4, 5, 6]):
        got = carried(ScriptedStep(durations=[0, 1, 3]), enc, cuts, max_symbols=2)
        assert got[:3] == (want.token_ids, want.frames, want.durations), cuts
        assert got[4] == pytest.approx(want.score)


@pytest.fixture(scope="module")
def models():
    return {name: harken.load(str(NEMO / name / "model.nemo")) for name in FAMILIES[:2]}


@pytest.mark.parametrize("name", FAMILIES[:2])
def test_carried_greedy_equals_one_piece(models, name):
    """The fixture's real prediction network and joint, on varied encoder frames (its random-weight encoder
    makes the RNNT head emit everything on frame 0 of real audio)."""
    model = models[name]
    torch.manual_seed(0)
    enc = 4 * torch.randn(1, model.joint.enc.in_features, 150)
    n = torch.tensor([150])
    with inference_mode(model):
        (want,) = transducer_greedy(model.heads, enc, n, model.max_symbols)
        assert len(set(want.frames)) > 10 and len(want.token_ids) > 20
        T = int(n[0])
        for cuts in ([T // 2], [1, 5, 17, T - 3], list(range(7, T, 7))):
            got = carried(model.heads, enc, cuts, model.max_symbols)
            assert got[:3] == (want.token_ids, want.frames, want.durations), cuts
            assert got[3] == pytest.approx(want.token_logprobs, abs=1e-5)  # the projection runs on other shapes
            assert got[4] == pytest.approx(want.score, rel=1e-5)


def _long_wave(name: str, seconds: float = 24.0) -> np.ndarray:
    """The fixture's probes, forwards and backwards, repeated to `seconds` (speech-like, no long pauses)."""
    a, _ = sf.read(NEMO / name / "probe.wav", dtype="float32")
    b, _ = sf.read(NEMO / name / "probe2_2s.wav", dtype="float32")
    parts, total = [], 0
    while total < seconds * 16000:
        for x in (a, b[::-1], a[::-1], b):
            parts.append(x)
            total += len(x)
    return np.concatenate(parts)[: int(seconds * 16000)]


@pytest.mark.parametrize("name", FAMILIES)
def test_windows_give_the_whole_recordings_tokens(name, tmp_path, frozen_normalisation):
    """Local attention (2 layers x (4 frames + conv 4) = 16 frames each side) inside 2 s of context: every
    window's central frames are the whole recording's, so the carried search gives its tokens exactly."""
    model = harken.load(str(NEMO / name / "model.nemo"))
    model.change_attention_model("rel_pos_local_attn", [4, 4])
    wave = _long_wave(name)
    path = tmp_path / "long.wav"
    sf.write(path, wave, 16000)
    with inference_mode(model):  # first front-end call: fixes the normalisation to the whole file's
        want = model.decode_waves(torch.from_numpy(wave)[None], torch.tensor([len(wave)]))[0]
    assert len(want.token_ids) > 20
    got, seconds = decode_long(model, AudioInput(str(path)), None, chunk_s=4.0, context_s=2.0)
    assert seconds == pytest.approx(24.0)
    assert got.num_frames == want.num_frames
    assert (got.token_ids, got.frames, got.durations) == (want.token_ids, want.frames, want.durations)
    assert got.token_logprobs == pytest.approx(want.token_logprobs, abs=1e-3)


def test_beam_search_over_windows_and_the_pipeline_path(models, tmp_path, frozen_normalisation):
    model = models["fastconformer_tdt_bpe"]
    model.change_attention_model("rel_pos_local_attn", [4, 4])
    wave = _long_wave("fastconformer_tdt_bpe", 20.0)
    path = tmp_path / "long.wav"
    sf.write(path, wave, 16000)
    beam = BeamTransducer(beam_size=2)
    with inference_mode(model):
        want = model.decode_waves(torch.from_numpy(wave)[None], torch.tensor([len(wave)]), beam)[0]
    got, _ = decode_long(model, AudioInput(str(path)), beam, chunk_s=4.0, context_s=2.0)
    assert got.token_ids == want.token_ids and got.frames == want.frames
    # the Transcriber sends a region longer than long_audio_s through the same windows
    (t,) = Transcriber(model, long_audio_s=5.0, chunk_s=4.0, context_s=2.0, split_at_pauses=False)([str(path)])
    greedy = decode_long(model, AudioInput(str(path)), None, chunk_s=4.0, context_s=2.0)[0]
    assert t.text == model.decode_text(greedy) and t.text
