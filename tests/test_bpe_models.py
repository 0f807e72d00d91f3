"""Subword (SentencePiece BPE) models: the tokenizer inside the archive, round trips, new vocabularies."""

import json
import tarfile

import numpy as np
import pytest
import torch

import harken
from harken.models.archive import read_archive


@pytest.fixture
def citrinet(nemo_fixture):
    return nemo_fixture("citrinet_bpe")


def test_tokenizer_from_archive_matches_nemo(citrinet):
    model = harken.load(citrinet / "model.nemo")
    example = json.loads((citrinet / "meta.json").read_text())["tokenizer"]["example"]
    assert model.tokenizer.encode(example["text"]) == example["ids"]
    assert model.tokenizer.decode(example["ids"]) == example["text"]
    assert model.labels == model.cfg["decoder"]["vocabulary"] and model.blank_id == 64


def test_bpe_round_trip_keeps_tokenizer_and_outputs(citrinet, tmp_path):
    model = harken.load(citrinet / "model.nemo")
    out = tmp_path / "copy.nemo"
    model.save(out)
    with tarfile.open(out) as tar:
        names = {m.name.removeprefix("./") for m in tar.getmembers()}
    original = read_archive(citrinet / "model.nemo")
    assert set(original.artifacts) <= names  # model, vocab and spe vocab files all carried over
    assert read_archive(out).config["target"].endswith("EncDecCTCModelBPE")
    again = harken.load(out)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(24000).astype(np.float32) * 0.1)
    assert again.transcribe(x, return_hypotheses=True)[0].log_probs.equal(
        model.transcribe(x, return_hypotheses=True)[0].log_probs)


def test_change_vocabulary_to_a_new_sentencepiece_model(citrinet, tmp_path):
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(input=str(citrinet / "text_corpus.txt"), model_prefix=str(tmp_path / "tokenizer"),
                                   vocab_size=48, model_type="bpe", character_coverage=1.0, minloglevel=2)
    model = harken.load(citrinet / "model.nemo")
    encoder = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    old_labels, old_w = model.labels, model.decoder.decoder_layers[0].weight.detach().clone()
    model.change_vocabulary(tmp_path)
    assert len(model.labels) == 48 and model.blank_id == 48
    assert all(torch.equal(model.encoder.state_dict()[k], v) for k, v in encoder.items())
    shared = [p for p in model.labels if p in old_labels]
    assert shared
    for piece in shared:
        assert torch.equal(model.decoder.decoder_layers[0].weight[model.labels.index(piece)],
                           old_w[old_labels.index(piece)])
    model.save(tmp_path / "new.nemo")
    reloaded = harken.load(tmp_path / "new.nemo")
    assert reloaded.labels == model.labels
    from harken.models.archive import read_archive  # NeMo's restore needs vocab.txt beside every BPE model

    archive = read_archive(tmp_path / "new.nemo")
    assert archive.config["tokenizer"]["vocab_path"] == "nemo:vocab.txt" and "vocab.txt" in archive.artifacts
    assert reloaded.tokenizer.encode("the red ball") == model.tokenizer.encode("the red ball")


def test_wordpiece_vocabulary(citrinet, tmp_path):
    from harken.text.wordpiece_tokenizer import WordPieceTokenizer

    tok = WordPieceTokenizer.from_bytes((citrinet / "wpe_vocab.txt").read_bytes())
    ids = tok.encode("the cat")
    pieces = [tok.labels[i] for i in ids]
    assert pieces[0] == "the" and all(p.startswith("##") for p in pieces[2:])
    assert tok.decode(ids) == "the cat"
    assert tok.normalize("the  Zebra") == ("the Zebra", 5)  # 'Z' is not in the vocabulary: the word is dropped

    folder = tmp_path / "wpe"
    folder.mkdir()
    (folder / "vocab.txt").write_bytes((citrinet / "wpe_vocab.txt").read_bytes())
    model = harken.load(citrinet / "model.nemo")
    model.change_vocabulary(folder)
    assert model.labels == tok.labels and model.cfg["tokenizer"]["type"] == "wpe"
    model.save(tmp_path / "wpe.nemo")
    again = harken.load(tmp_path / "wpe.nemo")
    assert again.tokenizer.encode("the cat") == ids
