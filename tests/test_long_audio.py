"""Long recordings (inference/long_audio.py): chunk seams lose and double nothing, frames land on the whole
file's grid, files are read in blocks at any rate, and VAD spans come back at their absolute frames.

The recording: 20 short phrases spoken by espeak-ng word by word, one every 4 s, each placed so that the
middle of its middle word falls exactly on a multiple of 4 s, i.e. on a seam when chunk_s=4.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

import harken
from harken.audio.io import AudioError, load_audio
from harken.core.inference_mode import inference_mode
from harken.decoding.ctc import ctc_decode
from harken.decoding.ctc_beam import BeamSearchDecoder
from harken.inference.inputs import AudioInput
from harken.inference.long_audio import decode_long, decode_spans
from harken.metrics.wer import char_errors
from harken.pretrained.catalog import DEFAULT_MODEL, resolve
from harken.synth.espeak import speak

PHRASES = ["the old river", "she opened the window", "seven green apples", "a quiet morning", "turn left here",
           "the captain said nothing", "bring me the paper", "under the bridge", "twelve small boats",
           "the garden was empty", "he walked home", "a cold winter night", "open the door", "the last train left",
           "forty two", "a yellow house", "please sit down", "the market is closed", "blue and white", "we are done"]
SR, SEAM = 16000, 4.0


@pytest.fixture(scope="module")
def model():
    return harken.load(str(resolve(DEFAULT_MODEL)))


def _trim(w: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(w) > 1e-3)
    return w[loud[0]:loud[-1] + 1]


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> dict:
    """84 s at 16 kHz and the same at 22.05 kHz, as WAV files."""
    rec = np.zeros(int((len(PHRASES) + 1) * SEAM * SR), np.float32)
    gap = np.zeros(int(0.06 * SR), np.float32)
    for i, phrase in enumerate(PHRASES):
        words = [_trim(speak(w, ["en-us", "en-gb"][i % 2], 170, 50, SR)) for w in phrase.split()]
        mid = len(words) // 2
        before = sum(len(w) + len(gap) for w in words[:mid]) + len(words[mid]) // 2
        audio = np.concatenate([x for w in words for x in (w, gap)])
        start = int((i + 1) * SEAM * SR) - before
        rec[start:start + len(audio)] = audio
    folder = tmp_path_factory.mktemp("long")
    sf.write(folder / "rec16k.wav", rec, SR)
    sf.write(folder / "rec22k.wav", soxr.resample(rec, SR, 22050), 22050)
    return {"16k": str(folder / "rec16k.wav"), "22k": str(folder / "rec22k.wav"), "seconds": len(rec) / SR}


def whole(model, wave: np.ndarray, search=None):
    """The whole-file decode (what the Transcriber does below long_audio_s)."""
    with inference_mode(model):
        return model.decode_waves(torch.from_numpy(wave)[None], torch.tensor([len(wave)]), search)[0]


def assert_well_formed(seq, seconds: float, frame_shift: float):
    starts = np.array(seq.frames)
    assert np.all(np.diff(starts) > 0), "frames must be strictly increasing"
    assert np.all(starts[1:] >= starts[:-1] + np.array(seq.durations[:-1])), "tokens overlap"
    assert starts[0] >= 0 and (starts[-1] + seq.durations[-1]) * frame_shift <= seconds + frame_shift


@pytest.mark.parametrize("rate", ["16k", "22k"])
def test_seams_give_exactly_the_whole_file_tokens_with_the_same_normalisation(model, recording, rate,
                                                                               frozen_normalisation):
    wave = load_audio(recording[rate], SR)
    want = whole(model, wave)  # first front-end call: fixes the normalisation to the whole file's
    got, seconds = decode_long(model, AudioInput(recording[rate]), None, chunk_s=SEAM, context_s=2.0)
    assert seconds == pytest.approx(len(wave) / SR)
    assert got.num_frames == want.num_frames
    assert (got.token_ids, got.frames, got.durations) == (want.token_ids, want.frames, want.durations)
    assert got.token_logprobs == pytest.approx(want.token_logprobs, abs=1e-4)
    assert got.score == pytest.approx(want.score, abs=1e-2)
    assert model.decode_text(got) == model.decode_text(want)
    assert_well_formed(got, seconds, model.frame_shift)


def test_per_window_normalisation_changes_little_and_reads_in_blocks(model, recording, monkeypatch):
    """As NeMo's buffered inference, each window is normalised on its own: the text moves a little from the
    whole file's (measured on this recording at 4 s + 2 x 2 s windows: 13 character edits in 84 s; at 30 + 2 x 5 s:
    7). The file is read a block at a time and the model never sees more than one window."""
    reads, windows = [], []
    read = sf.SoundFile.read
    monkeypatch.setattr(sf.SoundFile, "read", lambda self, frames=-1, **kw: reads.append(frames) or
                        read(self, frames, **kw))
    encode = model.encode
    monkeypatch.setattr(model, "encode", lambda w, n, **kw: windows.append(int(n[0])) or encode(w, n, **kw))
    want = model.decode_text(whole(model, load_audio(recording["16k"], SR)))
    reads.clear(), windows.clear()
    seq, seconds = decode_long(model, AudioInput(recording["16k"]), None, chunk_s=SEAM, context_s=2.0)
    got = model.decode_text(seq)
    assert 0 < max(reads) <= 4 * SR and -1 not in reads
    assert max(windows) == (SEAM + 2 * 2.0) * SR and len(windows) == len(PHRASES) + 1
    edits = char_errors(want, got).errors
    assert edits <= 2 * seconds / 10, (edits, want, got)  # at most 2 character edits per 10 s
    assert abs(len(got.replace(" ", "")) - len(want.replace(" ", ""))) <= 5  # no word lost or doubled
    assert_well_formed(seq, seconds, model.frame_shift)


def test_offset_and_duration_give_frames_from_the_segment_start(model, recording, frozen_normalisation):
    wave = load_audio(recording["16k"], SR, offset=10.0, duration=30.0)
    want = whole(model, wave)
    got, seconds = decode_long(model, AudioInput(recording["16k"], offset=10.0, duration=30.0), None, 8.0, 2.0)
    assert seconds == pytest.approx(30.0)
    assert (got.token_ids, got.frames) == (want.token_ids, want.frames)
    assert_well_formed(got, seconds, model.frame_shift)


def test_beam_search_is_searched_in_pieces_cut_at_pauses(model, recording, frozen_normalisation):
    """A search restarts at each cut (the longest pause of every stretch of 2 chunks, here ~4 s): the letters
    match the whole-file search's up to 1 edit per 10 s, and a cut always separates two words (the whole-file
    search runs some words together over pauses: this model seldom says a space after a long pause)."""
    wave = load_audio(recording["16k"], SR)
    with inference_mode(model):
        lp, n, _ = model(torch.from_numpy(wave)[None], torch.tensor([len(wave)]), pad_to=0)
    beam = BeamSearchDecoder.for_model(model, beam_size=4)
    want = model.decode_text(ctc_decode(lp, n, model.blank_id, beam)[0])
    seq, seconds = decode_long(model, AudioInput(recording["16k"]), beam, chunk_s=SEAM, context_s=2.0)
    got = model.decode_text(seq)
    assert char_errors(want.replace(" ", ""), got.replace(" ", "")).errors <= seconds / 10, (want, got)
    assert len(got.split()) >= len(want.split())
    assert_well_formed(seq, seconds, model.frame_shift)


def test_spans_decode_apart_and_land_at_absolute_frames(model, recording):
    spans = [(2.0, 6.0), (10.0, 14.5)]
    parts = [whole(model, load_audio(recording["16k"], SR, a, b - a)) for a, b in spans]
    seq = decode_spans(model, AudioInput(recording["16k"]), spans)
    assert seq.num_frames == round(recording["seconds"] / model.frame_shift)
    texts = [model.decode_text(p).strip() for p in parts]
    assert all(texts) and model.decode_text(seq).split() == " ".join(texts).split()
    assert seq.frames[:len(parts[0].frames)] == [f + 100 for f in parts[0].frames]  # 2.0 s = frame 100
    assert seq.frames[-len(parts[1].frames):] == [f + 500 for f in parts[1].frames]
    assert_well_formed(seq, recording["seconds"], model.frame_shift)
    for bad in ([(3.0, 2.0)], [(-1.0, 2.0)], [(4.0, 6.0), (1.0, 2.0)], [(1.0, 3.0), (2.5, 4.0)]):
        with pytest.raises(ValueError, match="span"):
            decode_spans(model, AudioInput(recording["16k"]), bad)


def test_the_transcriber_routes_long_files_here(model, recording):
    from harken.inference.pipeline import Transcriber

    seq, seconds = decode_long(model, AudioInput(recording["16k"]), None, chunk_s=20.0, context_s=3.0)
    [t] = Transcriber(model, long_audio_s=60.0, chunk_s=20.0, context_s=3.0, split_at_pauses=False)([recording["16k"]])
    assert t.text.split() == model.decode_text(seq).split() and t.duration == pytest.approx(seconds)
    starts = [w.start for w in t.words]
    assert starts == sorted(starts) and 0 <= starts[0] and t.words[-1].end <= seconds


def test_unreadable_files_name_the_file(model, tmp_path):
    with pytest.raises(AudioError, match="nothere.wav"):
        decode_long(model, AudioInput(str(tmp_path / "nothere.wav")))
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF but not really a wave file" * 10)
    with pytest.raises(AudioError, match="junk.wav"):
        decode_long(model, AudioInput(str(junk)))
    ok = tmp_path / "ok.wav"
    sf.write(ok, np.zeros(1600, np.float32), SR)
    with pytest.raises(AudioError, match="ok.wav: offset 5.0s is past the end"):
        decode_long(model, AudioInput(str(ok), offset=5.0))


def test_long_files_are_cut_at_pauses_and_each_region_decoded_alone(model, recording):
    """By default a long input is cut where it pauses; each region is decoded as an utterance of its own."""
    from harken.inference.pauses import split_at_pauses
    from harken.inference.pipeline import Transcriber

    regions = split_at_pauses(AudioInput(recording["16k"]), SR)
    assert len(regions) == len(PHRASES)  # one phrase every 4 s, silence between
    for i, (a, b) in enumerate(regions):
        assert a < (i + 1) * SEAM < b and b - a < SEAM  # each region holds its phrase and no other
    alone = [model.decode_text(whole(model, load_audio(recording["16k"], SR, a, b - a))) for a, b in regions]
    [t] = Transcriber(model, long_audio_s=60.0)([recording["16k"]])
    assert t.text.split() == " ".join(alone).split()
    assert t.duration == pytest.approx(recording["seconds"])
    for w in t.words:
        assert any(a <= w.start < w.end <= b + 1e-6 for a, b in regions), w


def test_pause_finding_on_levels():
    from harken.inference.pauses import FRAME_S, speech_regions

    def levels(*parts):  # (seconds, dB) pieces -> 20 ms frame levels
        return np.concatenate([np.full(round(s / FRAME_S), db, float) for s, db in parts])

    # speech, a long pause, speech, a short pause (kept inside), speech, silence at the end
    lv = levels((1.0, -20), (1.0, -80), (2.0, -20), (0.1, -80), (1.0, -20), (0.5, -80))
    assert np.allclose(speech_regions(lv), [(0.0, 1.2), (1.8, 5.3)])
    noisy = levels((1.0, -20), (1.0, -25), (1.0, -20))  # no contrast: one region, nothing cut
    assert np.allclose(speech_regions(noisy), [(0.0, 3.0)])
    assert np.allclose(speech_regions(levels((2.0, -90))), [(0.0, 2.0)])  # silence only: left whole
