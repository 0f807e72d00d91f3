"""The torch-free transducer runtime: numpy greedy search over the exported decoder and joiner against
harken's torch greedy and NeMo's fixtures, the recognizer against `harken.Transcriber`, and
`harken transcribe --runtime onnx`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import harken
from harken.decoding.transducer_greedy import GreedyTransducer
from harken.export import export

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from harken.runtime import OnnxTransducerRecognizer, load_recognizer  # noqa: E402

ROOT = Path(__file__).parent
NEMO = ROOT / "data" / "nemo"
NAMES = ["fastconformer_rnnt_bpe", "fastconformer_tdt_bpe"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            model = harken.load(NEMO / name / "model.nemo")
            cache[name] = (model, export(model, tmp_path_factory.mktemp(name)))
        return cache[name]

    return get


def _waves(name: str) -> list[str]:
    return [str(NEMO / name / "probe.wav"), str(NEMO / name / "probe2_2s.wav")]


def _same_decode(got, ref) -> None:
    assert got.token_ids == ref.token_ids and got.frames == ref.frames and got.durations == ref.durations
    assert got.num_frames == ref.num_frames
    assert np.abs(np.array(got.token_logprobs) - np.array(ref.token_logprobs)).max(initial=0) <= 1e-4
    assert abs(got.score - ref.score) <= 1e-3


@pytest.mark.parametrize("name", NAMES)
def test_numpy_greedy_equals_torch_greedy_and_nemo(exported, name):
    model, folder = exported(name)
    rec = OnnxTransducerRecognizer(folder)
    greedy = json.loads((NEMO / name / "greedy.json").read_text())
    batch = np.load(NEMO / name / "batch_outputs.npz")
    probe = (np.load(NEMO / name / "encoded.npy"), np.load(NEMO / name / "encoded_len.npy"))
    for key, encoded, lengths in [("probe", *probe), ("batch", batch["encoded"], batch["encoded_len"])]:
        with torch.inference_mode():
            ref = model.decode_encoded(torch.from_numpy(encoded), torch.from_numpy(lengths))
        nemo = greedy[key] if key == "batch" else [greedy[key]]
        for b, n in enumerate(lengths.tolist()):
            got = rec.search(encoded[b], n)
            _same_decode(got, ref[b])
            assert got.token_ids == nemo[b]["y_sequence"] and got.frames == nemo[b]["timestamp"]
            assert abs(got.score - nemo[b]["score"]) <= 1e-3
    if name == "fastconformer_rnnt_bpe":  # this decode hits the 10-symbol limit on 26 frames; try another limit
        encoded = np.load(NEMO / name / "encoded.npy")
        with torch.inference_mode():
            (ref,) = model.decode_encoded(torch.from_numpy(encoded), torch.tensor([38]), GreedyTransducer(3))
        _same_decode(OnnxTransducerRecognizer(folder, max_symbols=3).search(encoded[0], 38), ref)
    else:  # TDT: tokens last their predicted duration, 0 included
        assert set(rec.search(np.load(NEMO / name / "encoded.npy")[0], 38).durations) == {0, 1, 4}


@pytest.mark.parametrize("name", NAMES)
def test_recognizer_equals_the_transcriber(exported, name):
    model, folder = exported(name)
    ref = list(harken.Transcriber(model)(_waves(name)))
    out = load_recognizer(folder, batch_size=2).transcribe(_waves(name))
    for a, b in zip(ref, out):
        assert b.text == a.text and b.duration == a.duration and b.source == a.source
        assert [(w.word, w.start, w.end) for w in b.words] == [(w.word, w.start, w.end) for w in a.words]
        assert abs(b.confidence - a.confidence) <= 1e-4 and abs(b.score - a.score) <= 1e-3
        assert [s.text for s in b.segments] == [s.text for s in a.segments]
    assert out[0].text == json.loads((NEMO / name / "greedy.json").read_text())["probe"]["text"]


def test_runtime_transducer_runs_with_torch_unimportable(exported):
    model, folder = exported("fastconformer_tdt_bpe")
    wav = _waves("fastconformer_tdt_bpe")[0]
    code = (
        "import sys, json\n"
        "sys.modules['torch'] = None\n"
        "from harken.runtime import load_recognizer\n"
        f"t = load_recognizer({str(folder)!r}).transcribe([{wav!r}])[0]\n"
        "torchy = ('harken.models', 'harken.modules', 'harken.decoding.trans')\n"
        "loaded = [m for m in sys.modules if m.startswith(torchy)]\n"
        "print(json.dumps({'text': t.text, 'words': [(w.word, w.start, w.end) for w in t.words], 'loaded': loaded}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT.parent)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    ref = next(iter(harken.Transcriber(model)([wav])))
    assert got["text"] == ref.text and got["loaded"] == []
    assert [tuple(w) for w in got["words"]] == [(w.word, w.start, w.end) for w in ref.words]


def test_load_recognizer_says_what_is_missing(exported, tmp_path):
    _, folder = exported("fastconformer_rnnt_bpe")
    with pytest.raises(FileNotFoundError, match="no encoder.onnx or model.onnx"):
        load_recognizer(tmp_path)
    (tmp_path / "encoder.onnx").write_bytes((folder / "encoder.onnx").read_bytes())
    with pytest.raises(FileNotFoundError, match="decoder.onnx, joiner.onnx"):
        load_recognizer(tmp_path)
    assert isinstance(load_recognizer(folder / "encoder.onnx"), OnnxTransducerRecognizer)


def test_transcribe_cli_with_the_onnx_runtime(exported, tmp_path, capsys):
    from harken.cli.main import main as cli

    _, folder = exported("fastconformer_tdt_bpe")
    model = str(NEMO / "fastconformer_tdt_bpe" / "model.nemo")
    waves = _waves("fastconformer_tdt_bpe")
    assert cli(["transcribe", "--model", model, *waves]) == 0
    torch_listing = capsys.readouterr().out
    assert cli(["transcribe", "--runtime", "onnx", "--model", str(folder), *waves]) == 0
    assert capsys.readouterr().out == torch_listing and torch_listing.count("\t") == 2
    for runtime, out in [("torch", tmp_path / "t"), ("onnx", tmp_path / "o")]:
        args = ["--model", model] if runtime == "torch" else ["--runtime", "onnx", "--model", str(folder)]
        assert cli(["transcribe", *args, "--format", "json,srt", "--output-dir", str(out), *waves]) == 0
    capsys.readouterr()
    for f in ("probe.json", "probe2_2s.json", "probe.srt"):
        a, b = (tmp_path / "t" / f).read_text(), (tmp_path / "o" / f).read_text()
        if f.endswith(".json"):  # confidences agree to float32 rounding
            a, b = json.loads(a), json.loads(b)
            assert a["text"] == b["text"] and [w["word"] for w in a["words"]] == [w["word"] for w in b["words"]]
            assert [(w["start"], w["end"]) for w in a["words"]] == [(w["start"], w["end"]) for w in b["words"]]
        else:
            assert a == b
    assert cli(["transcribe", "--runtime", "onnx", "--model", str(folder), "--beam-size", "4", waves[0]]) == 1
    assert "greedily" in capsys.readouterr().err
    assert cli(["transcribe", "--runtime", "onnx", waves[0]]) == 1
    assert "needs --model" in capsys.readouterr().err
    assert cli(["transcribe", "--runtime", "onnx", "--model", str(folder), waves[0], str(tmp_path / "gone.wav")]) == 1
    captured = capsys.readouterr()  # the missing file is reported, the other transcribed
    assert "gone.wav" in captured.err and captured.out.count("\t") == 1
