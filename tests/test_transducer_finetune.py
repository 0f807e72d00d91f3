"""Fine-tuning transducers: `change_vocabulary` on NeMo's TDT and hybrid TDT+CTC fixtures (shared rows, blank and
durations kept, encoder untouched, archives round-trip), init_from into a fresh transducer, and a transducer
catalog entry downloaded from a local HTTP server."""

from __future__ import annotations

import hashlib

import pytest
import soundfile as sf
import torch

import harken
from harken.models.archive import read_archive
from harken.models.transducer_model import TransducerModel
from harken.pretrained import catalog
from harken.pretrained.catalog import ModelCard
from harken.training.init_from import init_spec, initialize_from
from harken.training.run import model_class

from .conftest import NEMO
from .test_pretrained import _Server

TDT, HYBRID = "fastconformer_tdt_bpe", "fastconformer_hybrid_tdt_ctc_bpe"


@pytest.fixture(scope="module")
def spm_folder(tmp_path_factory):
    """A new 48-piece SentencePiece tokenizer in NeMo's folder layout (most pieces shared with the fixtures')."""
    import sentencepiece as spm

    folder = tmp_path_factory.mktemp("tok")
    spm.SentencePieceTrainer.train(input=str(NEMO / "citrinet_bpe" / "text_corpus.txt"),
                                   model_prefix=str(folder / "tokenizer"), vocab_size=48, model_type="bpe",
                                   character_coverage=1.0, minloglevel=2)
    return folder


def _probe(name: str) -> torch.Tensor:
    x, _ = sf.read(NEMO / name / "probe.wav", dtype="float32")
    return torch.from_numpy(x)


def _decode(model: TransducerModel, name: str) -> tuple[torch.Tensor, list[int]]:
    x = _probe(name)
    with torch.inference_mode():
        enc, enc_len = model(x[None], torch.tensor([len(x)]), pad_to=0)
        return enc, model.decode_encoded(enc, enc_len)[0].token_ids


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("name", [TDT, HYBRID])
def test_new_sentencepiece_keeps_shared_rows_blank_and_durations(name, spm_folder, tmp_path):
    model = harken.load(NEMO / name / "model.nemo")
    old_labels, encoder = model.labels, _params(model.encoder)
    embed, out = model.decoder.prediction["embed"].weight.detach().clone(), model.joint.joint_net[-1]
    out_w, out_b = out.weight.detach().clone(), out.bias.detach().clone()
    lstm, enc_proj = _params(model.decoder.prediction["dec_rnn"]), _params(model.joint.enc)
    ctc = model.ctc_decoder.decoder_layers[0].weight.detach().clone() if model.ctc_decoder is not None else None
    enc_before, _ = _decode(model, name)

    model.change_vocabulary(spm_folder)
    new = model.labels
    n, m = len(new), len(old_labels)
    assert n == 48 and model.blank_id == 48 and model.decoder.vocab_size == 48
    shared = [(new.index(p), old_labels.index(p)) for p in new if p in old_labels]
    assert len(shared) > 30
    new_embed, new_out = model.decoder.prediction["embed"].weight, model.joint.joint_net[-1]
    assert new_embed.shape == (49, 64) and new_out.weight.shape == (49 + 5, 64)
    for j, i in shared:
        assert torch.equal(new_embed[j], embed[i]) and torch.equal(new_out.weight[j], out_w[i])
        assert torch.equal(new_out.bias[j], out_b[i])
        if ctc is not None:
            assert torch.equal(model.ctc_decoder.decoder_layers[0].weight[j], ctc[i])
    assert torch.equal(new_embed[n], embed[m])  # the blank's (padding) row
    assert torch.equal(new_out.weight[n:], out_w[m:]) and torch.equal(new_out.bias[n:], out_b[m:])  # blank+durations
    assert all(torch.equal(v, _params(model.decoder.prediction["dec_rnn"])[k]) for k, v in lstm.items())
    assert all(torch.equal(v, _params(model.joint.enc)[k]) for k, v in enc_proj.items())
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in encoder.items())
    if ctc is not None:
        assert model.ctc_decoder.decoder_layers[0].weight.shape[0] == 49
        assert torch.equal(model.ctc_decoder.decoder_layers[0].weight[n], ctc[m])
    assert model.cfg["joint"]["num_classes"] == 48 and model.cfg["joint"]["vocabulary"] == new
    enc_after, ids = _decode(model, name)
    assert torch.equal(enc_before, enc_after)

    model.save(tmp_path / "new.nemo")
    archive = read_archive(tmp_path / "new.nemo")
    assert archive.config["decoder"]["vocab_size"] == 48 and "tokenizer.model" in archive.artifacts
    assert archive.config["tokenizer"]["vocab_path"] == "nemo:vocab.txt"  # NeMo's restore needs the file
    assert "vocab.txt" in archive.artifacts and "tokenizer.vocab" in archive.artifacts
    again = harken.load(tmp_path / "new.nemo")
    assert isinstance(again, TransducerModel) and again.labels == new and again.durations == [0, 1, 2, 3, 4]
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())
    assert _decode(again, name)[1] == ids
    assert again.transcribe(_probe(name)) == [again.tokenizer.decode(ids)]
    if ctc is not None:
        again.change_decoding_strategy(decoder_type="ctc")
        assert isinstance(again.transcribe(_probe(name))[0], str)


def test_nemo_signature_wordpiece_and_decoding_cfg(spm_folder, tmp_path):
    model = harken.load(NEMO / HYBRID / "model.nemo")
    with pytest.raises(FileNotFoundError, match="vocab.txt"):
        model.change_vocabulary(new_tokenizer_dir=str(spm_folder), new_tokenizer_type="wpe")
    (tmp_path / "wpe").mkdir()
    (tmp_path / "wpe" / "vocab.txt").write_bytes((NEMO / "citrinet_bpe" / "wpe_vocab.txt").read_bytes())
    greedy = {"strategy": "greedy_batch", "greedy": {"max_symbols": 5}}
    model.change_vocabulary(new_tokenizer_dir=str(tmp_path / "wpe"), new_tokenizer_type="wpe",
                            decoding_cfg=greedy, ctc_decoding_cfg={"strategy": "greedy"})
    assert model.cfg["tokenizer"]["type"] == "wpe" and model.max_symbols == 5 and model.cur_decoder == "rnnt"
    assert model.cfg["decoding"]["model_type"] == "tdt"  # kept from the old section
    model.save(tmp_path / "wpe.nemo")
    again = harken.load(tmp_path / "wpe.nemo")
    assert again.labels == model.labels and again.tokenizer.encode("the cat") == model.tokenizer.encode("the cat")
    assert _decode(again, HYBRID)[1] == _decode(model, HYBRID)[1]


def test_characters_make_a_character_transducer(tmp_path):
    model = harken.load(NEMO / TDT / "model.nemo")
    old_out, old_labels = model.joint.joint_net[-1].weight.detach().clone(), model.labels
    letters = list(" abcdefghijklmnopqrstuvwxyz'")
    model.change_vocabulary(letters)
    assert model.labels == letters and "tokenizer" not in model.cfg and model.cfg["labels"] == letters
    for j, letter in enumerate(letters):
        if letter in old_labels:
            assert torch.equal(model.joint.joint_net[-1].weight[j], old_out[old_labels.index(letter)])
    model.save(tmp_path / "chars.nemo")
    assert read_archive(tmp_path / "chars.nemo").config["target"].endswith("rnnt_models.EncDecRNNTModel")
    again = harken.load(tmp_path / "chars.nemo")
    assert again.labels == letters and _decode(again, TDT)[1] == _decode(model, TDT)[1]


@pytest.mark.parametrize("name", [TDT, HYBRID])
def test_init_from_fixture_keeps_encoder_of_a_fresh_transducer(name, spm_folder):
    """A training config with a new vocabulary, `init_from: {path, exclude: [decoder, joint]}`: run.py's path."""
    fixture = NEMO / name / "model.nemo"
    source = harken.load(fixture)
    other = harken.load(fixture)
    other.change_vocabulary(spm_folder)
    cfg = {"model": other.export_config(), "init_from": {"model0": {"path": str(fixture),
                                                                     "exclude": ["decoder", "joint"]}}}
    cfg["model"]["tokenizer"] = {"dir": str(spm_folder), "type": "bpe"}  # a training config names a folder
    cfg["model"].pop("target")
    torch.manual_seed(0)
    model = model_class(cfg["model"]).from_config(cfg["model"])
    assert isinstance(model, TransducerModel) and (model.ctc_decoder is not None) == (name == HYBRID)
    fresh_heads = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith(("encoder.", "preproc"))}
    loaded, skipped = initialize_from(model, **init_spec(cfg))
    assert all(k.startswith(("encoder.", "preprocessor.")) for k in loaded)
    assert any(k.startswith("joint.") for k in skipped) and any(k.startswith("decoder.") for k in skipped)
    for key, value in source.encoder.state_dict().items():
        assert torch.equal(model.encoder.state_dict()[key], value), key
    assert all(torch.equal(model.state_dict()[k], v) for k, v in fresh_heads.items())
    model.eval()
    assert torch.equal(_decode(model, name)[0], _decode(source, name)[0])  # same encoder output


def test_init_from_same_vocabulary_loads_everything():
    fixture = NEMO / TDT / "model.nemo"
    source = harken.load(fixture)
    torch.manual_seed(1)
    model = TransducerModel(read_archive(fixture).config, read_archive(fixture).artifacts)
    loaded, skipped = initialize_from(model, str(fixture))
    assert not skipped and len(loaded) == len(source.state_dict())
    assert all(torch.equal(model.state_dict()[k], v) for k, v in source.state_dict().items())


def test_transducer_catalog_entry_downloads_and_loads(tmp_path, monkeypatch):
    data = (NEMO / TDT / "model.nemo").read_bytes()
    server = _Server({"/nvidia/tiny-tdt/resolve/main/tiny-tdt.nemo": data})
    try:
        card = ModelCard("tiny-tdt", f"{server.url}/nvidia/tiny-tdt/resolve/main/tiny-tdt.nemo", "fastconformer-tdt",
                         True, sha256=hashlib.sha256(data).hexdigest())
        monkeypatch.setitem(catalog.CATALOG, card.name, card)
        monkeypatch.setenv("HARKEN_CACHE", str(tmp_path / "cache"))
        monkeypatch.delenv("HARKEN_OFFLINE", raising=False)
        model = harken.from_pretrained("tiny-tdt", progress=False)
    finally:
        server.httpd.shutdown()
    assert isinstance(model, TransducerModel) and model.model_type == "tdt"
    assert (tmp_path / "cache" / "models" / "tiny-tdt.nemo").read_bytes() == data
    reference = harken.load(NEMO / TDT / "model.nemo")
    assert _decode(model, TDT)[1] == _decode(reference, TDT)[1]


def test_catalog_lists_the_public_transducers():
    names = ["parakeet-tdt-0.6b-v2", "parakeet-tdt-0.6b-v3", "parakeet-rnnt-0.6b", "parakeet-rnnt-1.1b",
             "parakeet-tdt-1.1b", "parakeet-tdt_ctc-110m", "parakeet-tdt_ctc-1.1b",
             "stt_en_fastconformer_hybrid_large_pc"]
    for name in names:
        card = catalog.CATALOG[name]
        assert card.loads and card.url.startswith(f"https://huggingface.co/nvidia/{name}/resolve/main/")
        assert card.url == f"https://huggingface.co/nvidia/{name}/resolve/main/{name}.nemo"
        assert card.sha256 is None  # not published: a wrong pin would make every download fail
    assert "hybrid" in catalog.CATALOG["parakeet-tdt_ctc-110m"].family


def test_hybrid_small_config_starts_from_the_shipped_ctc_model():
    """hybrid_tdt_ctc_small's init_from (with `rename`) gives its CTC head exactly the shipped model's function;
    only the transducer head is new."""
    from harken.configs import load_named_config
    from harken.core.config import resolve
    from harken.pretrained.catalog import DEFAULT_MODEL
    from harken.pretrained.catalog import resolve as resolve_model

    cfg = resolve(load_named_config("hybrid_tdt_ctc_small"))
    model = model_class(cfg["model"])(cfg["model"])
    loaded, skipped = initialize_from(model, **init_spec(cfg))
    assert any(k.startswith("ctc_decoder.") for k in loaded) and all(k.startswith("preprocessor.") for k in skipped)
    assert not any(k.startswith(("decoder.", "joint.")) for k in loaded)
    ctc = harken.load(str(resolve_model(DEFAULT_MODEL)))
    torch.manual_seed(0)
    x = 0.1 * torch.randn(1, 24000)
    model.eval(), ctc.eval()
    with torch.inference_mode():
        enc, _ = model.encode(x, torch.tensor([24000]), pad_to=0)
        assert torch.equal(model.ctc_log_probs(enc), ctc(x, torch.tensor([24000]), pad_to=0)[0])
