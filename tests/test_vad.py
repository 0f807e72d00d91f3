"""Voice activity detection: NeMo 3.0's post-processing reproduced on its fixture, the rules on hand-made
probability curves, and the `harken vad` / `harken classify` commands on the random fixture models."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

import harken
from harken.cli.main import main
from harken.inference.speech_detection import detect_speech, window_speech_probs
from harken.inference.vad import (
    VADParams,
    binarize,
    filter_segments,
    merge_overlaps,
    nemo_segment_table,
    speech_segments,
    table_rttm,
    table_txt,
    thresholds,
)
from harken.inference.vad_smoothing import overlap_smoothing

PARAM_SETS = ["vad_inference_postprocessing_yaml", "frame_vad_infer_postprocess_yaml", "custom_nopad_gaps_first",
              "custom_relative_scale"]


@pytest.fixture(scope="module")
def fixture(request):
    folder = request.config.rootpath / "tests" / "data" / "nemo" / "vad_postprocessing"
    probs = np.array([float(x) for x in (folder / "synthetic_probs.frame").read_text().split()], dtype=np.float32)
    return probs, json.loads((folder / "segments.json").read_text())


def _params(entry: dict) -> VADParams:
    return VADParams(**entry["params"], frame_length=0.02)


# ---------------------------------------------------------------------------------------------- NeMo parity
@pytest.mark.parametrize("name", PARAM_SETS)
def test_segment_table_equals_nemo(fixture, name):
    probs, data = fixture
    entry = data["param_sets"][name]
    params = _params(entry)
    assert thresholds(probs, params) == (entry["per_args_float"]["onset"], entry["per_args_float"]["offset"])
    binarized = binarize(probs, params)
    expected = np.array(entry["binarization_only"])
    assert binarized.shape == expected.shape and np.abs(binarized - expected).max() <= 1e-6
    filtered = filter_segments(binarized, params)
    expected = np.array(entry["binarization_then_filtering"])
    assert filtered.shape == expected.shape and np.abs(filtered - expected).max() <= 1e-6
    rows = nemo_segment_table(probs, params)
    expected = np.array(entry["segments_start_end_dur"])
    assert rows.shape == expected.shape and np.abs(rows - expected).max() <= 1e-6
    assert table_txt(rows) == entry["table_file_txt"]["synthetic_probs.txt"]
    assert table_rttm(rows, "synthetic_probs") == entry["table_file_rttm"]["synthetic_probs.rttm"]


def test_last_segment_ends_past_the_audio_in_nemo_rows_but_not_in_spans(fixture):
    probs, data = fixture
    params = _params(data["param_sets"]["frame_vad_infer_postprocess_yaml"])
    rows = nemo_segment_table(probs, params)
    assert rows[-1, 1] == pytest.approx(10.18)  # frame 499 x 0.02 + pad 0.2, audio is 10 s
    assert rows[-1, 2] == pytest.approx(10.18 - 9.1 + 0.01)  # NeMo's +0.01 duration
    spans = speech_segments(probs, params, duration=10.0)
    assert [(s.start, s.end) for s in spans] == [(round(float(a), 6), min(round(float(b), 6), 10.0))
                                                 for a, b, _ in rows]
    assert spans[-1].end == 10.0 and speech_segments(probs, params)[-1].end == pytest.approx(10.18)
    assert all(s.label == "speech" and 0 < s.score < 1 for s in spans)


@pytest.mark.parametrize("method", ["mean", "median"])
def test_overlap_smoothing_equals_nemo(fixture, method):
    probs, data = fixture
    ref = data["overlap_smoothing"]
    args = ref["per_args"]
    out = overlap_smoothing(probs[::4], method, args["overlap"], args["window_length_in_sec"],
                            args["shift_length_in_sec"])
    assert len(out) == ref[f"{method}_len"] == 1000
    assert np.abs(out - np.array(ref[method])).max() <= 1e-6


def test_overlap_smoothing_refuses_an_overlap_it_cannot_step():
    with pytest.raises(ValueError, match="jump"):
        overlap_smoothing(np.ones(10), "mean", overlap=0.999)


# ---------------------------------------------------------------------------------------------- the rules
def _p(**kw) -> VADParams:
    base = dict(onset=0.6, offset=0.3, pad_onset=0.0, pad_offset=0.0, min_duration_on=0.0, min_duration_off=0.0,
                frame_length=0.1)
    return VADParams(**{**base, **kw})


def _rows(x: np.ndarray) -> list[list[float]]:
    return np.round(x.astype(float), 6).tolist()


def test_hysteresis_keeps_speech_between_offset_and_onset_and_scores_the_mean():
    probs = [0, 0, 0.9, 0.5, 0.5, 0.9, 0.1, 0, 0, 0]
    assert _rows(nemo_segment_table(probs, _p())) == [[0.2, 0.6, 0.41]]
    assert _rows(nemo_segment_table(probs, _p(offset=0.55))) == [[0.2, 0.3, 0.11], [0.5, 0.6, 0.11]]
    # float32 comparisons, as torch's: float32(0.3) is not above 0.3 (in float64 it would be)
    assert len(binarize([0, 0.3, 0.3, 0], _p(onset=0.3))) == 0 and len(binarize([0, 0.31, 0], _p(onset=0.3))) == 1
    (span,) = speech_segments(probs, _p(), duration=1.0)
    assert (span.start, span.end) == (0.2, 0.6) and span.score == pytest.approx(0.7)


def test_padding_clips_at_zero_and_merges_before_filtering():
    probs = [0, 0.9, 0.9, 0, 0, 0.9, 0.9, 0, 0, 0]
    assert _rows(binarize(probs, _p())) == [[0.1, 0.3], [0.5, 0.7]]
    assert _rows(binarize(probs, _p(pad_onset=0.2, pad_offset=0.1))) == [[0.0, 0.8]]
    # min_duration_on sees padded lengths: 0.2 s of speech padded to 0.35 s survives a 0.3 s minimum
    assert _rows(nemo_segment_table(probs, _p(pad_offset=0.15, min_duration_on=0.3))) == [[0.1, 0.45, 0.36],
                                                                                          [0.5, 0.85, 0.36]]
    assert len(nemo_segment_table(probs, _p(min_duration_on=0.3))) == 0


def test_filter_order_decides_whether_a_short_blip_survives():
    probs = [0, 0.9, 0, 0.9, 0.9, 0.9, 0.9, 0.9, 0, 0]  # [0.1, 0.2] speech, 0.1 s gap, [0.3, 0.8] speech
    speech_first = _p(min_duration_on=0.2, min_duration_off=0.15)
    gaps_first = _p(min_duration_on=0.2, min_duration_off=0.15, filter_speech_first=False)
    assert _rows(filter_segments(binarize(probs, speech_first), speech_first)) == [[0.3, 0.8]]
    assert _rows(filter_segments(binarize(probs, gaps_first), gaps_first)) == [[0.1, 0.8]]


def test_open_segment_at_the_end_and_clipping():
    probs = [0.9] * 10  # 1 s of speech, 0.1 s frames
    assert _rows(nemo_segment_table(probs, _p(pad_offset=0.3))) == [[0.0, 1.2, 1.21]]  # 9 x 0.1 + 0.3
    assert [(s.start, s.end) for s in speech_segments(probs, _p(pad_offset=0.3), duration=1.0)] == [(0.0, 1.0)]
    assert [(s.start, s.end) for s in speech_segments(probs, _p(pad_offset=0.3))] == [(0.0, 1.2)]


def test_relative_scale_thresholds_between_min_and_max():
    probs = np.array([0.2, 0.2, 0.38, 0.38, 0.2, 0.2], dtype=np.float32)
    assert len(nemo_segment_table(probs, _p())) == 0
    onset, offset = thresholds(probs, _p(scale="relative"))
    assert onset == pytest.approx(0.2 + 0.6 * 0.18) and offset == pytest.approx(0.2 + 0.3 * 0.18)
    assert _rows(nemo_segment_table(probs, _p(scale="relative")))[0][:2] == [0.2, 0.4]
    ramp = np.arange(100, dtype=np.float32) / 100  # percentile: the 1st and 99th values, ceil(n * p / 100)-th
    assert thresholds(ramp, _p(scale="percentile", onset=0.5)) == pytest.approx((0.49, 0.3 * 0.98))


def test_no_speech_gives_nemo_placeholder_tables():
    rows = nemo_segment_table(np.zeros(50), VADParams())
    assert rows.shape == (0, 3) and speech_segments(np.zeros(50), VADParams()) == []
    assert table_txt(rows) == "0 0 speech\n"
    assert table_rttm(rows, "x") == "SPEAKER <NA> 1 0 0 <NA> <NA> speech <NA> <NA>\n"


def test_merge_compares_neighbours_only_as_nemo_does():
    assert _rows(merge_overlaps(np.array([[0, 1.5], [1, 3.5], [4, 5]]))) == [[0, 3.5], [4, 5]]
    assert _rows(merge_overlaps(np.array([[0, 10], [1, 2], [3, 4]]))) == [[0, 2], [3, 4]]  # NeMo's quirk


def test_params_check_their_values():
    with pytest.raises(ValueError, match="scale"):
        VADParams(scale="loud")


# ---------------------------------------------------------------------------------------------- models and CLI
@pytest.fixture(scope="module")
def speech_file(tmp_path_factory, request):
    """1 s of silence, an espeak-ng utterance (the frame VAD's probe where espeak-ng is missing), 1 s of silence."""
    if shutil.which("espeak-ng"):
        from harken.synth.espeak import speak

        s = speak("open the window please", "en-us", 160, 50, 16000).astype(np.float32)
    else:
        probe = request.config.rootpath / "tests" / "data" / "nemo" / "marblenet_frame_vad" / "probe.wav"
        s = sf.read(probe, dtype="float32")[0]
    silence = np.zeros(16000, np.float32)
    path = tmp_path_factory.mktemp("vad") / "talk.wav"
    sf.write(path, np.concatenate([silence, s, silence]), 16000)
    return path


def _model(nemo_fixture, name):
    return str(nemo_fixture(name) / "model.nemo")


def test_window_vad_slides_as_nemo_vad_infer(nemo_fixture):
    model = harken.load(_model(nemo_fixture, "marblenet_vad"))
    wave = sf.read(nemo_fixture("marblenet_vad") / "probe.wav", dtype="float32")[0]
    probs = window_speech_probs(model, wave, shift=0.08)
    assert len(probs) == len(wave) // 1280
    size = int(16000 * 0.63)
    padded = np.concatenate([np.zeros(size // 2), wave, np.zeros(size - size // 2)]).astype(np.float32)
    for j in (0, 7, len(probs) - 1):
        window = padded[j * 1280: j * 1280 + size]  # centred on j x shift
        expected = model.classify(window)[0].logits.softmax(-1)[model.labels.index("speech")]
        assert probs[j] == pytest.approx(float(expected), abs=1e-5)


def test_frame_vad_detects_on_20ms_frames(nemo_fixture, speech_file):
    model = harken.load(_model(nemo_fixture, "marblenet_frame_vad"))
    wave = sf.read(speech_file, dtype="float32")[0]
    result = detect_speech(model, wave, VADParams(onset=0.01, offset=0.01))
    assert result.params.frame_length == pytest.approx(0.02)
    assert len(result.probs) == len(wave) // 320 and np.all((result.probs > 0) & (result.probs < 1))
    logits = model.frame_logits(wave)
    assert np.allclose(result.probs, logits.softmax(-1)[:, model.labels.index("1")].numpy())
    (span,) = result.spans  # everything is speech at threshold 0.01: one span, clipped to the audio
    assert span.start == 0.0 and span.end == pytest.approx(result.duration)
    assert result.rows[0, 1] > result.duration  # NeMo's row ends past it


def _lines(capsys) -> list[list[str]]:
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("name", ["marblenet_frame_vad", "marblenet_vad"])
def test_vad_cli_prints_segments(nemo_fixture, speech_file, capsys, name):
    assert main(["vad", str(speech_file), "--model", _model(nemo_fixture, name)]) == 0
    duration = sf.info(speech_file).duration
    for source, start, end in _lines(capsys):  # the random model finds what it finds: check the shape
        assert source == str(speech_file) and 0 <= float(start) < float(end) <= duration + 1e-3
    assert main(["vad", str(speech_file), "--model", _model(nemo_fixture, name), "--onset", "0", "--offset", "0"]) == 0
    assert _lines(capsys) == [[str(speech_file), "0.000", f"{duration:.3f}"]]


def test_vad_cli_writes_every_format(nemo_fixture, speech_file, tmp_path, capsys):
    model = _model(nemo_fixture, "marblenet_frame_vad")
    args = ["vad", str(speech_file), "--model", model, "--format", "json,rttm,ctm,txt", "--output-dir",
            str(tmp_path), "--onset", "0.01", "--offset", "0.01", "--pad-onset", "0.1", "--min-duration-off", "0.3"]
    assert main(args) == 0
    body = json.loads((tmp_path / "talk.json").read_text())
    assert body["params"]["onset"] == 0.01 and body["params"]["pad_onset"] == 0.1
    assert body["params"]["min_duration_off"] == 0.3 and body["params"]["pad_offset"] == 0.2  # default kept
    (seg,) = body["segments"]
    assert seg["start"] == 0.0 and seg["end"] == body["duration"] and seg["label"] == "speech"
    wave = sf.read(speech_file, dtype="float32")[0]
    result = detect_speech(harken.load(model), wave, VADParams(onset=0.01, offset=0.01, pad_onset=0.1,
                                                               min_duration_off=0.3))
    assert (tmp_path / "talk.txt").read_text() == table_txt(result.rows)
    assert (tmp_path / "talk.rttm").read_text() == table_rttm(result.rows, "talk")
    fields = (tmp_path / "talk.ctm").read_text().split()
    assert fields[:2] == ["talk", "1"] and fields[4] == "speech" and float(fields[3]) == pytest.approx(seg["end"])
    capsys.readouterr()
    assert main(args) == 1  # files exist: refuse without --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_vad_cli_manifest_times_follow_the_offset(nemo_fixture, speech_file, tmp_path, capsys):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"audio_filepath": str(speech_file), "offset": 0.5, "duration": 1.0}) + "\n")
    model = _model(nemo_fixture, "marblenet_frame_vad")
    assert main(["vad", "--manifest", str(manifest), "--model", model, "--onset", "0", "--offset", "0"]) == 0
    assert _lines(capsys) == [[str(speech_file), "0.500", "1.500"]]


def test_vad_cli_smoothing_gives_10ms_frames(nemo_fixture, speech_file, tmp_path):
    args = ["vad", str(speech_file), "--model", _model(nemo_fixture, "marblenet_vad"), "--smoothing", "median",
            "--format", "json", "--output-dir", str(tmp_path), "--onset", "0", "--offset", "0"]
    assert main(args) == 0
    body = json.loads((tmp_path / "talk.json").read_text())
    assert body["params"]["frame_length"] == 0.01 and body["segments"][0]["end"] == body["duration"]


@pytest.mark.parametrize("argv, message", [
    (["--model", "X"], "one of the two"),
    (["--model", "matchboxnet"], "no 'speech'"),
    (["--model", "quartznet_tiny"], "transcribes speech"),
    (["--model", "marblenet_vad", "--format", "srt"], "unknown --format srt"),
])
def test_vad_cli_errors(nemo_fixture, speech_file, capsys, argv, message):
    argv = [_model(nemo_fixture, a) if a in ("matchboxnet", "quartznet_tiny", "marblenet_vad") else a for a in argv]
    files = [] if argv[:2] == ["--model", "X"] else [str(speech_file)]
    assert main(["vad", *files, *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("harken vad: error:") and message in err and len(err.strip().splitlines()) == 1


def test_classify_cli_equals_transcribe_with_top_k(nemo_fixture, capsys):
    folder = nemo_fixture("matchboxnet")
    model = harken.load(folder / "model.nemo")
    files = [str(folder / "probe.wav"), str(folder / "probe_1s.wav")]
    assert main(["classify", *files, "--model", str(folder / "model.nemo"), "--top-k", "3"]) == 0
    lines = _lines(capsys)
    assert [row[0] for row in lines] == files
    assert [row[1] for row in lines] == model.transcribe(files)
    for row in lines:
        scores = [float(s) for s in row[2::2]]
        assert len(row) == 7 and scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1
    assert main(["classify", files[0], "--model", str(folder / "model.nemo"), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["label"] == model.transcribe([files[0]])[0] and len(body["top_k"]) == 1


@pytest.mark.parametrize("name, message", [
    ("marblenet_frame_vad", "frame classifier"), ("quartznet_tiny", "harken transcribe"),
])
def test_classify_cli_errors(nemo_fixture, capsys, name, message):
    probe = str(nemo_fixture("matchboxnet") / "probe.wav")
    assert main(["classify", probe, *(["--model", _model(nemo_fixture, name)] if name else [])]) == 1
    err = capsys.readouterr().err
    assert err.startswith("harken classify: error:") and message in err and len(err.strip().splitlines()) == 1


def test_segment_vad_is_classified_as_a_whole(nemo_fixture, capsys):
    folder = nemo_fixture("marblenet_vad")
    assert main(["classify", str(folder / "probe.wav"), "--model", str(folder / "model.nemo")]) == 0
    assert _lines(capsys)[0][1] == "speech"  # NeMo's transcribe gives `speech` for this probe
