"""Transducer export (encoder, decoder, joiner graphs in sherpa-onnx's NeMo layout) against the torch model
and NeMo's fixtures: each graph's outputs within 1e-4, the sherpa-onnx metadata, hybrids' CTC head, int8,
TorchScript, and `harken export` on a folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import harken
from harken.export import export

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from harken.runtime import load_recognizer  # noqa: E402
from harken.runtime.model_files import read_tokens  # noqa: E402

NEMO = Path(__file__).parent / "data" / "nemo"
TRANSDUCERS = ["fastconformer_rnnt_bpe", "fastconformer_tdt_bpe", "fastconformer_hybrid_tdt_ctc_bpe"]
TOL = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> (torch model, export folder), exported once per module."""
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            model = harken.load(NEMO / name / "model.nemo")
            folder = export(model, tmp_path_factory.mktemp(name), ctc_head=model.ctc_decoder is not None)
            cache[name] = (model, folder)
        return cache[name]

    return get


def _session(path: Path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _batch_features(model, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The torch front end on the fixture's padded batch (probe.wav, probe2_2s.wav), as NeMo made it."""
    waves = [sf.read(NEMO / name / f, dtype="float32")[0] for f in ("probe.wav", "probe2_2s.wav")]
    batch = torch.zeros(2, max(len(w) for w in waves))
    for row, w in zip(batch, waves):
        row[: len(w)] = torch.from_numpy(w)
    with torch.inference_mode():
        feats, lengths = model.preprocessor(batch, torch.tensor([len(w) for w in waves]))
    return feats.numpy(), lengths.numpy()


def _max_diff(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


@pytest.mark.parametrize("name", TRANSDUCERS)
def test_encoder_graph_matches_torch_and_nemo(exported, name):
    model, folder = exported(name)
    enc = _session(folder / "encoder.onnx")
    batch = np.load(NEMO / name / "batch_outputs.npz")  # NeMo's encoder on probe.wav and probe2_2s.wav, padded
    feats, feats_len = _batch_features(model, name)
    out, out_len = enc.run(None, {"audio_signal": feats, "length": feats_len})
    with torch.inference_mode():
        ref, ref_len = model.encoder(torch.from_numpy(feats), torch.from_numpy(feats_len))
    assert out.shape == tuple(ref.shape) and out_len.tolist() == ref_len.tolist() == batch["encoded_len"].tolist()
    for b, n in enumerate(out_len.tolist()):
        assert _max_diff(out[b, :, :n], ref[b, :, :n]) <= TOL
        assert _max_diff(out[b, :, :n], batch["encoded"][b, :, :n]) <= TOL  # NeMo's own encoder output


@pytest.mark.parametrize("name", TRANSDUCERS[:2])
def test_decoder_graph_carries_the_lstm_state_like_torch(exported, name):
    model, folder = exported(name)
    dec = _session(folder / "decoder.onnx")
    check = np.load(NEMO / name / "joint_check.npz")
    zeros = np.zeros((1, 1, model.decoder.pred_hidden), dtype=np.float32)
    feed = {"targets": np.array([[model.blank_id]], dtype=np.int32), "target_length": np.ones(1, dtype=np.int32),
            "states.1": zeros, "states.2": zeros}
    start, start_len, h, c = dec.run(None, feed)  # the start step: the blank with zero states
    assert start_len.tolist() == [1] and start.shape == (1, model.decoder.pred_hidden, 1)
    targets = check["targets"].astype(np.int32)  # then NeMo's three tokens, continuing from that state
    g, _, h, c = dec.run(None, {"targets": targets, "target_length": np.array([3], dtype=np.int32),
                                "states.1": h, "states.2": c})
    assert _max_diff(np.concatenate([start, g], axis=2), check["prednet_out"]) <= TOL
    assert _max_diff(h, check["prednet_h"]) <= TOL and _max_diff(c, check["prednet_c"]) <= TOL
    # a batch of two rows with different tokens and states, one step, against torch's prediction network
    gen = torch.Generator().manual_seed(4)
    state = (torch.randn(1, 2, 64, generator=gen), torch.randn(1, 2, 64, generator=gen))
    tokens = torch.tensor([[5], [model.blank_id]])
    with torch.inference_mode():
        ref, (rh, rc) = model.decoder.predict(tokens, state, add_sos=False)
    out, _, oh, oc = dec.run(None, {"targets": tokens.int().numpy(), "target_length": np.ones(2, dtype=np.int32),
                                    "states.1": state[0].numpy(), "states.2": state[1].numpy()})
    assert _max_diff(out[:, :, 0], ref[:, 0]) <= TOL and _max_diff(oh, rh) <= TOL and _max_diff(oc, rc) <= TOL


@pytest.mark.parametrize("name", TRANSDUCERS[:2])
def test_joiner_graph_gives_the_raw_joint_logits(exported, name):
    model, folder = exported(name)
    joiner = _session(folder / "joiner.onnx")
    check = np.load(NEMO / name / "joint_check.npz")
    logits = joiner.run(None, {"encoder_outputs": check["encoder_frames"], "decoder_outputs": check["prednet_out"]})[0]
    assert logits.shape == check["joint_logits_raw"].shape  # [1, 5 frames, 4 predictions, V + 1 (+ durations)]
    assert _max_diff(logits, check["joint_logits_raw"]) <= TOL
    assert _max_diff(torch.from_numpy(logits).log_softmax(-1), check["joint_out"]) <= TOL  # NeMo's CPU output
    one = joiner.run(None, {"encoder_outputs": check["encoder_frames"][:, :, 2:3],
                            "decoder_outputs": check["prednet_out"][:, :, 1:2]})[0]  # what a search feeds it
    with torch.inference_mode():
        ref = model.joint.joint(torch.from_numpy(check["encoder_frames"][:, :, 2:3]).transpose(1, 2),
                                torch.from_numpy(check["prednet_out"][:, :, 1:2]).transpose(1, 2))
    assert one.shape == (1, 1, 1, logits.shape[-1]) and _max_diff(torch.from_numpy(one).log_softmax(-1), ref) <= TOL


def test_metadata_and_files_follow_sherpa_onnx(exported):
    for name, tdt in [("fastconformer_rnnt_bpe", False), ("fastconformer_tdt_bpe", True)]:
        model, folder = exported(name)
        assert sorted(p.name for p in folder.iterdir()) == ["decoder.onnx", "encoder.onnx", "joiner.onnx",
                                                           "tokens.txt"]
        meta = _session(folder / "encoder.onnx").get_modelmeta().custom_metadata_map
        assert meta["model_type"] == "EncDecRNNTBPEModel" and meta["kind"] == "transducer"
        assert meta["vocab_size"] == "64" and meta["pred_rnn_layers"] == "1" and meta["pred_hidden"] == "64"
        assert meta["subsampling_factor"] == "8" and meta["feat_dim"] == "80"
        assert meta["normalize_type"] == "per_feature"
        assert ("tdt" in meta["url"]) == tdt and json.loads(meta["durations"]) == ([0, 1, 2, 3, 4] if tdt else [])
        assert meta["max_symbols"] == "10" and meta["blank_id"] == "64"
        lines = (folder / "tokens.txt").read_text(encoding="utf-8").splitlines()
        assert len(lines) == 65 and lines[-1] == "<blk> 64" and read_tokens(folder / "tokens.txt") == model.labels
        joiner_out = _session(folder / "joiner.onnx").get_outputs()[0].shape
        assert joiner_out[-1] == 65 + (5 if tdt else 0)  # static: sherpa-onnx reads the vocabulary from it
        assert _session(folder / "decoder.onnx").get_modelmeta().custom_metadata_map["kind"] == "transducer_decoder"
    _, hybrid = exported("fastconformer_hybrid_tdt_ctc_bpe")
    assert _session(hybrid / "encoder.onnx").get_modelmeta().custom_metadata_map["model_type"] == \
        "EncDecHybridRNNTCTCBPEModel"


def test_hybrid_ctc_head_exports_as_a_ctc_model(exported):
    model, folder = exported("fastconformer_hybrid_tdt_ctc_bpe")
    sess = _session(folder / "model.onnx")
    meta = sess.get_modelmeta().custom_metadata_map
    assert meta["kind"] == "ctc" and meta["vocab_size"] == "65" and meta["blank_id"] == "64"
    fixture = NEMO / "fastconformer_hybrid_tdt_ctc_bpe"
    features, flen = np.load(fixture / "features.npy"), np.load(fixture / "features_len.npy")
    lp, lp_len = sess.run(None, {"audio_signal": features, "length": flen})
    ref = np.load(fixture / "ctc_logprobs.npy")  # NeMo's CTC head on the same features
    assert lp.shape == ref.shape and lp_len.tolist() == [ref.shape[1]] and _max_diff(lp, ref) <= TOL
    wav = str(fixture / "probe.wav")
    model.change_decoding_strategy(decoder_type="ctc")
    try:
        torch_text = model.transcribe([wav])[0]
    finally:
        model.change_decoding_strategy(decoder_type="rnnt")
    assert load_recognizer(folder / "model.onnx").transcribe([wav])[0].text == torch_text == "ay"
    assert type(load_recognizer(folder)).__name__ == "OnnxTransducerRecognizer"  # the folder opens the transducer


def test_int8_transducer_graphs(tmp_path, exported):
    model, folder = exported("fastconformer_tdt_bpe")
    q = export(model, tmp_path / "int8", quantize="int8")
    for graph in ("encoder.onnx", "decoder.onnx", "joiner.onnx"):
        assert _session(q / graph).get_modelmeta().custom_metadata_map["quantization"] == "int8"
    assert (q / "encoder.onnx").stat().st_size < 0.6 * (folder / "encoder.onnx").stat().st_size
    feats = np.load(NEMO / "fastconformer_tdt_bpe" / "features.npy")
    length = np.load(NEMO / "fastconformer_tdt_bpe" / "features_len.npy")
    fp32 = _session(folder / "encoder.onnx").run(None, {"audio_signal": feats, "length": length})[0]
    int8 = _session(q / "encoder.onnx").run(None, {"audio_signal": feats, "length": length})[0]
    assert _max_diff(fp32, int8) <= 0.05 * np.abs(fp32).max()  # measured: 1.5% of the largest value
    assert load_recognizer(q).transcribe([str(NEMO / "fastconformer_tdt_bpe" / "probe.wav")])[0].text


def test_torchscript_transducer_modules(tmp_path, exported):
    from harken.export.torchscript_export import load_metadata

    model, folder = exported("fastconformer_tdt_bpe")
    out = export(model, tmp_path / "ts", format="torchscript")
    encoder, decoder, joiner = (torch.jit.load(str(out / f"{n}.pt")) for n in ("encoder", "decoder", "joiner"))
    assert load_metadata(out / "encoder.pt")["transducer_type"] == "tdt"
    feats, feats_len = (torch.from_numpy(a) for a in _batch_features(model, "fastconformer_tdt_bpe"))
    with torch.inference_mode():
        enc, enc_len = encoder(feats, feats_len)
        ref, ref_len = model.encoder(feats, feats_len)
        assert enc_len.tolist() == ref_len.tolist() == [38, 25]
        assert _max_diff(enc[0], ref[0]) <= TOL and _max_diff(enc[1, :, :enc_len[1]], ref[1, :, :enc_len[1]]) <= TOL
        check = np.load(NEMO / "fastconformer_tdt_bpe" / "joint_check.npz")
        zeros = torch.zeros(1, 1, 64)
        g0, _, h, c = decoder(torch.tensor([[64]], dtype=torch.int32), torch.ones(1, dtype=torch.int32), zeros, zeros)
        g, _, h, c = decoder(torch.from_numpy(check["targets"]).int(), torch.tensor([3], dtype=torch.int32), h, c)
        assert _max_diff(torch.cat([g0, g], dim=2), check["prednet_out"]) <= TOL
        logits = joiner(torch.from_numpy(check["encoder_frames"]), torch.from_numpy(check["prednet_out"]))
        assert _max_diff(logits, check["joint_logits_raw"]) <= TOL


def test_export_cli_writes_a_folder_and_keeps_existing_files(tmp_path, capsys):
    from harken.cli.main import main as cli

    model = str(NEMO / "fastconformer_rnnt_bpe" / "model.nemo")
    out = tmp_path / "rnnt"
    assert cli(["export", model, str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "encoder.onnx", "joiner.onnx", "tokens.txt"]
    assert "joiner.onnx" in capsys.readouterr().out
    stamp = (out / "encoder.onnx").stat().st_mtime_ns
    assert cli(["export", model, str(out)]) == 1  # refused: the files exist
    assert "--overwrite" in capsys.readouterr().err and (out / "encoder.onnx").stat().st_mtime_ns == stamp
    assert cli(["export", model, str(tmp_path / "x.onnx")]) == 1
    assert "folder" in capsys.readouterr().err
    assert cli(["export", model, str(out), "--ctc-head"]) == 1  # no CTC head in a plain RNNT model (and exists)
    assert cli(["export", model, str(tmp_path / "fresh"), "--ctc-head"]) == 1
    assert "no CTC head" in capsys.readouterr().err and not (tmp_path / "fresh").exists()  # checked before writing
