"""The inference pipeline: NeMo-equal timestamps, typed results for every family, confidence, beam times,
manifest segments, and clear refusals for models that do not transcribe."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

import harken
from harken.cli.main import main as cli
from harken.data.manifest import ManifestEntry, write_manifest
from harken.decoding.ctc_beam import BeamSearchDecoder
from harken.inference.pipeline import Transcriber
from harken.pretrained.catalog import DEFAULT_MODEL, resolve

from .conftest import NEMO

TS = NEMO / "ctc_timestamps"
EXPECTED = json.loads((TS / "timestamps.json").read_text())
CTC_FIXTURES = ["quartznet_tiny", "jasper_dr", "quartznet_se", "citrinet_bpe", "conformer_ctc_bpe",
                "fastconformer_ctc_bpe"]
CLASSIFIERS = ["matchboxnet", "marblenet_vad", "marblenet_frame_vad"]


@pytest.fixture(scope="module")
def shipped():
    return harken.load(str(resolve(DEFAULT_MODEL)))


def assert_same_timestamps(got: dict, want: dict):
    assert got["timestep"] == want["timestep"]
    for level in ("char", "word", "segment"):
        assert len(got[level]) == len(want[level]), level
        for g, w in zip(got[level], want[level]):
            for key, value in w.items():
                if isinstance(value, float):
                    assert g[key] == pytest.approx(value, abs=1e-9), (level, key, g, w)
                else:
                    assert g[key] == value, (level, key, g, w)


@pytest.mark.parametrize("utt", ["utt1.wav", "utt2.wav", "utt3.wav"])
def test_shipped_model_timestamps_equal_nemo(shipped, utt):
    want = EXPECTED["harken_en_small"]["results"][utt]
    hyp = shipped.transcribe([str(TS / utt)], batch_size=1, timestamps=True)[0]
    assert hyp.text == want["text"]
    assert hyp.score == pytest.approx(want["score"], abs=1e-4)
    assert_same_timestamps(hyp.timestamp, want["timestamp"])


def test_batched_timestamps_equal_single(shipped):
    files = [str(TS / u) for u in ("utt1.wav", "utt2.wav", "utt3.wav")]
    batched = shipped.transcribe(files, batch_size=3, timestamps=True)
    for f, hyp in zip(files, batched):
        assert hyp.timestamp == shipped.transcribe([f], batch_size=1, timestamps=True)[0].timestamp


@pytest.mark.parametrize("name", ["jasper_dr", "conformer_ctc_bpe"])
def test_random_fixture_timestamps_equal_nemo(name):
    want = EXPECTED["random_fixture_models"][name]["results"]["probe.wav"]
    model = harken.load(str(NEMO / name / "model.nemo"))
    hyp = model.transcribe([str(NEMO / name / "probe.wav")], timestamps=True)[0]
    assert hyp.text == want["text"]
    assert_same_timestamps(hyp.timestamp, want["timestamp"])


@pytest.mark.parametrize("name", CTC_FIXTURES)
def test_every_ctc_family_gives_monotonic_times_inside_the_audio(name):
    model = harken.load(str(NEMO / name / "model.nemo"))
    files = [str(NEMO / name / "probe.wav"), str(NEMO / name / "probe2_2s.wav")]
    for f, t in zip(files, Transcriber(model, batch_size=2)(files)):
        duration = sf.info(f).duration
        assert t.duration == pytest.approx(duration, abs=1e-3) and t.source == f
        assert t.text == model.transcribe([f])[0]
        tokens = t.tokens
        assert tokens, "the random fixtures all emit tokens"
        for a, b in zip(tokens, tokens[1:]):
            assert a.start < b.start and a.end <= b.start + 1e-9
        assert all(0 <= tok.start < tok.end <= duration + 1e-9 and 0 <= tok.confidence <= 1 for tok in tokens)
        words = t.words
        assert " ".join(w.word for w in words) == " ".join(t.text.split())
        assert all(w.start < w.end and 0 <= w.confidence <= 1 for w in words)
        assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:]))
        assert [s.start for s in t.segments] == sorted(s.start for s in t.segments)
        json.dumps(t.to_dict())


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifiers_give_typed_spans_inside_the_audio(name):
    model = harken.load(str(NEMO / name / "model.nemo"))
    f = str(NEMO / name / "probe.wav")
    duration = sf.info(f).duration
    (spans,) = model.spans([f])
    assert spans[0].start == 0 and spans[-1].end == pytest.approx(duration, abs=0.03)
    assert all(a.end == b.start for a, b in zip(spans, spans[1:]))
    assert all(s.start < s.end and 0 <= s.score <= 1 and s.label in model.labels for s in spans)
    if name != "marblenet_frame_vad":
        assert [s.label for s in spans] == model.transcribe([f])


def test_confidence_is_lowest_on_the_misheard_word(shipped):
    (t,) = Transcriber(shipped)([str(TS / "utt1.wav")])  # "the cat sat on the mat" heard as "... cet ..."
    conf = {w.word: w.confidence for w in t.words}
    assert t.text == "the cat cet on the mat"
    assert conf["cet"] == min(conf.values()) and conf["cet"] < 0.8
    assert 0 < t.confidence < 1


def test_beam_search_results_carry_times(shipped):
    files = [str(TS / u) for u in ("utt2.wav", "utt3.wav")]
    beam = BeamSearchDecoder.for_model(shipped, beam_size=8)
    greedy = list(Transcriber(shipped)(files))
    beamed = list(Transcriber(shipped, decoding=beam)(files))
    shift = shipped.frame_shift
    for g, b in zip(greedy, beamed):
        assert b.text == g.text
        for wg, wb in zip(g.words, b.words):  # the Viterbi alignment of the same text: the same word spans
            assert abs(wg.start - wb.start) <= 2 * shift and abs(wg.end - wb.end) <= 2 * shift
    hyp = shipped.transcribe(files[:1], timestamps=True, decoding=beam)[0]
    assert [w["word"] for w in hyp.timestamp["word"]] == beamed[0].text.split()


def test_transcribe_manifest_honours_offset_and_duration(shipped, tmp_path, capsys):
    a, sr = sf.read(TS / "utt2.wav")
    b, _ = sf.read(TS / "utt3.wav")
    gap = np.zeros(sr // 2)
    sf.write(tmp_path / "both.wav", np.concatenate([a, gap, b]), sr)
    start = (len(a) + len(gap)) / sr
    manifest = tmp_path / "m.json"
    write_manifest(manifest, [ManifestEntry(str(tmp_path / "both.wav"), len(b) / sr, "seven green apples", start)])
    assert cli(["transcribe", "--manifest", str(manifest)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.split("\t")[1] == "seven green apples"
    assert cli(["eval", "--manifest", str(manifest), "--output", str(tmp_path / "p.json")]) == 0
    assert json.loads((tmp_path / "p.json").read_text())["pred_text"] == "seven green apples"
    (t,) = Transcriber(shipped)(harken.data.manifest.read_manifest(manifest))
    assert t.words[0].start >= start  # times are the file's, not the segment's


@pytest.mark.parametrize("command", [["eval", "--manifest"], ["transcribe", "--beam-size", "4", "--manifest"],
                                     ["transcribe", "--manifest"]])
def test_classifier_in_transcribe_or_eval_is_a_clear_error(command, tmp_path, capsys):
    manifest = tmp_path / "m.json"
    write_manifest(manifest, [ManifestEntry(str(NEMO / "matchboxnet" / "probe.wav"), 1.0, "down")])
    assert cli([*command, str(manifest), "--model", str(NEMO / "matchboxnet" / "model.nemo")]) == 1
    err = capsys.readouterr().err
    assert "labels audio, it does not transcribe speech" in err and "Traceback" not in err


def test_transcribe_writes_every_format_per_input_and_never_replaces_files(tmp_path, capsys):
    import srt
    import webvtt

    files = [str(TS / "utt1.wav"), str(TS / "utt2.wav")]
    out = tmp_path / "out"
    assert cli(["transcribe", *files, "--format", "srt,vtt,json,ctm,tsv,txt", "--output-dir", str(out)]) == 0
    subs = list(srt.parse((out / "utt2.srt").read_text()))
    assert " ".join(s.content.replace("\n", " ") for s in subs) == "open the window please"
    assert [c.text for c in webvtt.read(str(out / "utt2.vtt"))] == [s.content for s in subs]
    data = json.loads((out / "utt1.json").read_text())
    assert data["text"] == "the cat cet on the mat" and [w["word"] for w in data["words"]] == data["text"].split()
    assert len((out / "utt1.ctm").read_text().splitlines()) == 6
    before = (out / "utt1.txt").read_text()
    assert cli(["transcribe", files[0], "--format", "txt", "--output-dir", str(out)]) == 1
    assert "exists" in capsys.readouterr().err and (out / "utt1.txt").read_text() == before
    assert cli(["transcribe", files[0], "--format", "txt", "--output-dir", str(out), "--overwrite"]) == 0


def test_align_cli_writes_word_and_token_times_of_the_known_text(tmp_path):
    manifest = tmp_path / "m.json"
    write_manifest(manifest, [ManifestEntry(str(TS / "utt1.wav"), 1.6, "The cat sat on the mat.")])
    assert cli(["align", "--manifest", str(manifest), "--output-dir", str(tmp_path / "a"), "--tokens"]) == 0
    rows = [line.split() for line in (tmp_path / "a" / "utt1.ctm").read_text().splitlines()]
    assert [r[4] for r in rows] == "the cat sat on the mat".split()  # the known text, not the heard "cet"
    starts = [float(r[2]) for r in rows]
    assert starts == sorted(starts) and all(float(r[3]) > 0 for r in rows)
    greedy = {w["word"]: w for w in EXPECTED["harken_en_small"]["results"]["utt1.wav"]["timestamp"]["word"]}
    assert abs(starts[-1] - greedy["mat"]["start"]) < 0.1
    tokens = (tmp_path / "a" / "utt1.tokens.ctm").read_text().splitlines()
    assert len(tokens) == len("the cat sat on the mat")


def test_transcribe_json_of_a_transducer_fixture_has_nemos_text_and_word_times(tmp_path):
    folder = NEMO / "fastconformer_tdt_bpe"
    want = json.loads((folder / "timestamps.json").read_text())["rnnt"]["probe"]
    assert cli(["transcribe", str(folder / "probe.wav"), "--model", str(folder / "model.nemo"), "--format", "json",
                "--output-dir", str(tmp_path)]) == 0
    got = json.loads((tmp_path / "probe.json").read_text())
    assert got["text"] == want["text"]
    nemo_words = want["timestamp"]["word"]
    assert [w["word"] for w in got["words"]] == [w["word"] for w in nemo_words]
    assert [w["start"] for w in got["words"]] == pytest.approx([w["start"] for w in nemo_words], abs=1e-3)
