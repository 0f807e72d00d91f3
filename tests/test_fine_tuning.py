"""Fine-tuning: a new vocabulary on NeMo's quartznet_tiny fixture, and init_from in training."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import harken
from harken.core.config import dump_config
from harken.data.manifest import read_manifest, write_manifest
from harken.training.init_from import initialize_from


def test_change_vocabulary_keeps_encoder_and_shared_rows(nemo_fixture):
    path = nemo_fixture("quartznet_tiny") / "model.nemo"
    original = harken.load(str(path))
    model = harken.load(str(path))
    model.change_vocabulary([*model.labels, "-"])
    assert model.labels[-1] == "-" and model.blank_id == 29 and model.tokenizer.blank_id == 29
    for key, value in original.encoder.state_dict().items():
        assert torch.equal(model.encoder.state_dict()[key], value), key
    old_w = original.decoder.decoder_layers[0].weight
    new_w = model.decoder.decoder_layers[0].weight
    assert new_w.shape[0] == 30
    assert torch.equal(new_w[:28], old_w[:28]) and torch.equal(new_w[-1], old_w[-1])  # letters and blank kept
    assert model.cfg["decoder"]["num_classes"] == 29 and model.cfg["labels"][-1] == "-"
    assert model.transcribe(torch.zeros(16000))[0] is not None


def test_fine_tune_with_extra_character_via_cli(nemo_fixture, espeak_corpus, tmp_path):
    fixture = nemo_fixture("quartznet_tiny") / "model.nemo"
    model = harken.load(str(fixture))
    model.change_vocabulary([*model.labels, "-"])
    rows = read_manifest(espeak_corpus.manifests["train"])
    for row in rows[:3]:
        row.text = row.text.replace(" ", "-", 1)  # the new character occurs in the data
    manifest = write_manifest(tmp_path / "train.json", rows)
    cfg = {"model": model.export_config(), "trainer": {"max_steps": 3, "accelerator": "cpu",
                                                       "enable_model_summary": False}}
    cfg["model"]["train_ds"] = {"manifest_filepath": str(manifest), "batch_size": 5}
    cfg["model"]["validation_ds"] = None
    cfg["model"]["optim"] = {"name": "adamw", "lr": 1e-3}
    (tmp_path / "ft.yaml").write_text(dump_config(cfg))
    run = subprocess.run([sys.executable, "-m", "harken", "train", str(tmp_path / "ft.yaml"), f"init_from={fixture}",
                          "--out", str(tmp_path / "run"), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "init_from" in run.stderr and "skipped 2" in run.stderr  # the two decoder tensors no longer fit
    tuned = harken.load(str(tmp_path / "run" / "model.nemo"))
    assert tuned.labels[-1] == "-"
    moved = [k for k, v in harken.load(str(fixture)).encoder.state_dict().items()
             if not torch.equal(tuned.encoder.state_dict()[k], v)]
    assert moved  # training did change the encoder that init_from loaded


def test_initialize_from_include_exclude(nemo_fixture):
    fixture = str(nemo_fixture("quartznet_tiny") / "model.nemo")
    model = harken.load(fixture)
    torch.nn.init.zeros_(model.decoder.decoder_layers[0].weight)
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    loaded, skipped = initialize_from(model, fixture, include=["decoder"])
    assert all(k.startswith("decoder.") for k in loaded) and loaded
    assert model.decoder.decoder_layers[0].weight.abs().sum() > 0  # the zeroed head came back
    loaded, _ = initialize_from(model, fixture, exclude=["decoder", "preprocessor"])
    assert all(k.startswith("encoder.") for k in loaded)
    assert all(torch.equal(model.encoder.state_dict()[k], v) for k, v in encoder_before.items())


def test_grow_keeps_the_small_models_function(nemo_fixture):
    """init_from with grow: a wider copy of a trained model gives the same log-probs, in eval and train mode."""
    fixture = str(nemo_fixture("quartznet_tiny") / "model.nemo")
    small = harken.load(fixture)
    cfg = small.export_config()
    for block in cfg["encoder"]["jasper"]:
        block["filters"] = int(block["filters"]) * 3 // 2
    cfg["decoder"]["feat_in"] = cfg["encoder"]["jasper"][-1]["filters"]
    torch.manual_seed(0)
    wide = harken.ASRModel.from_config(cfg)
    loaded, skipped = initialize_from(wide, fixture, grow=True)
    assert not skipped and len(loaded) == len(small.state_dict())
    assert sum(p.numel() for p in wide.parameters()) > 1.5 * sum(p.numel() for p in small.parameters())
    feats = torch.randn(2, small.encoder.feat_in, 120)
    lengths = torch.tensor([120, 90])
    for train_mode in (False, True):  # batch norm on batch statistics is per channel too
        small.encoder.train(train_mode)
        wide.encoder.train(train_mode)
        with torch.no_grad():
            expected = small.decoder(small.encoder(feats, lengths)[0])
            got = wide.decoder(wide.encoder(feats, lengths)[0])
        assert torch.allclose(got, expected, atol=1e-5), (train_mode, (got - expected).abs().max())
    wide_w = wide.encoder.encoder[1].mconv[1].conv.weight  # a pointwise conv: old rows kept, new rows fresh
    small_w = small.encoder.encoder[1].mconv[1].conv.weight
    assert torch.equal(wide_w[: small_w.shape[0], : small_w.shape[1]], small_w)
    assert wide_w[small_w.shape[0]:].abs().sum() > 0


def test_insert_blocks_keeps_the_small_models_function(nemo_fixture):
    """init_from with insert_blocks: new identity blocks between and after the old ones, same log-probs in eval."""
    fixture = str(nemo_fixture("quartznet_tiny") / "model.nemo")
    small = harken.load(fixture)
    cfg = small.export_config()
    blocks = cfg["encoder"]["jasper"]
    cfg["encoder"]["jasper"] = [blocks[0], blocks[1], dict(blocks[1], kernel=[21]), blocks[2],
                                dict(blocks[2], repeat=1)]
    torch.manual_seed(0)
    deep = harken.ASRModel.from_config(cfg)
    loaded, skipped = initialize_from(deep, fixture, insert_blocks=[2, 4])
    assert not skipped and len(loaded) == len(small.state_dict())
    assert torch.equal(deep.encoder.encoder[3].mconv[0].conv.weight, small.encoder.encoder[2].mconv[0].conv.weight)
    feats = torch.randn(2, small.encoder.feat_in, 120)
    lengths = torch.tensor([120, 90])
    small.eval()
    deep.eval()
    with torch.no_grad():
        encoded, out_lengths = small.encoder(feats, lengths)
        expected = small.decoder(encoded)
        got = deep.decoder(deep.encoder(feats, lengths)[0])
    for row, n in enumerate(out_lengths.tolist()):  # frames past a row's length are padding (masked downstream)
        gap = (got[row, :n] - expected[row, :n]).abs().max()
        assert gap < 1e-5, gap
    deep.train()  # the new blocks learn: their zeroed batch norm gets a gradient
    deep.decoder(deep.encoder(feats, lengths)[0]).logsumexp(-1).sum().backward()
    assert deep.encoder.encoder[2].mconv[-1].weight.grad.abs().sum() > 0


def test_insert_blocks_refuses_a_block_that_cannot_be_the_identity(nemo_fixture):
    fixture = str(nemo_fixture("quartznet_tiny") / "model.nemo")
    cfg = harken.load(fixture).export_config()
    blocks = cfg["encoder"]["jasper"]
    cfg["encoder"]["jasper"] = [blocks[0], blocks[1], dict(blocks[1], filters=96), blocks[2]]
    deep = harken.ASRModel.from_config(cfg)
    with pytest.raises(ValueError, match="encoder block 2 must keep its channels"):
        initialize_from(deep, fixture, insert_blocks=[2], grow=True)


def test_average_is_the_mean_of_the_weights_and_refuses_other_models(nemo_fixture, tmp_path):
    from harken.cli.main import main
    from harken.training.averaging import average_models

    fixture = str(nemo_fixture("quartznet_tiny") / "model.nemo")
    paths, states = [], []
    for seed in (0, 1, 2):  # three "checkpoints": the fixture's weights, each moved by its own noise
        torch.manual_seed(seed)
        model = harken.load(fixture)
        with torch.no_grad():
            for tensor in model.state_dict().values():
                tensor.add_(torch.randn_like(tensor) * 0.1) if tensor.is_floating_point() else tensor.fill_(seed)
        paths.append(tmp_path / f"m{seed}.nemo")
        model.save(paths[-1])
        states.append(model.state_dict())
    assert main(["average", *map(str, paths), "--out", str(tmp_path / "avg.nemo")]) == 0
    averaged = harken.load(str(tmp_path / "avg.nemo")).state_dict()
    assert any(not v.is_floating_point() for v in averaged.values())  # batch norm's counters: the last file's
    for key, value in averaged.items():
        expected = sum(s[key] for s in states) / 3 if value.is_floating_point() else states[-1][key]
        torch.testing.assert_close(value, expected, msg=key)

    other = harken.load(fixture)
    cfg = other.export_config()
    cfg["labels"] = cfg["decoder"]["vocabulary"] = list(reversed(cfg["labels"]))  # same shapes, other symbols
    harken.ASRModel.from_config(cfg).save(tmp_path / "other.nemo")
    with pytest.raises(ValueError, match="other.nemo is not the same model as .*m0.nemo"):
        average_models([paths[0], tmp_path / "other.nemo"])

    # weights: an interpolation (scaled to sum to 1); wrong counts and negative weights are refused by reason
    mix = tmp_path / "mix.nemo"
    assert main(["average", str(paths[0]), str(paths[1]), "--weights", "1", "3", "--out", str(mix)]) == 0
    mixed = harken.load(str(mix)).state_dict()
    for key, value in mixed.items():
        expected = 0.25 * states[0][key] + 0.75 * states[1][key] if value.is_floating_point() else states[1][key]
        torch.testing.assert_close(value, expected, msg=key)
    with pytest.raises(ValueError, match="2 weights for 3 checkpoints"):
        average_models(paths, [1.0, 1.0])
    with pytest.raises(ValueError, match="non-negative"):
        average_models(paths[:2], [1.0, -0.5])


def test_half_weights_halve_the_archive_and_load_back_as_float32(nemo_fixture, tmp_path):
    from harken.cli.main import main
    from harken.models.archive import read_archive

    fixture = str(nemo_fixture("quartznet_tiny") / "model.nemo")
    assert main(["average", fixture, "--out", str(tmp_path / "half.nemo"), "--half"]) == 0
    stored = read_archive(tmp_path / "half.nemo").state_dict
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    assert (tmp_path / "half.nemo").stat().st_size < 0.6 * Path(fixture).stat().st_size
    full, half = harken.load(fixture), harken.load(str(tmp_path / "half.nemo"))
    assert all(p.dtype == torch.float32 for p in half.parameters())
    audio, length = torch.randn(1, 16000) * 0.1, torch.tensor([16000])
    full.eval()
    half.eval()
    with torch.no_grad():
        expected, got = full(audio, length)[0], half(audio, length)[0]
    assert 0 < (got - expected).abs().max() < 0.05  # rounded, not lost
    half.decoder.decoder_layers[0].bias.data[0] = 1e6  # beyond float16: refused, not written as inf
    with pytest.raises(ValueError, match="decoder.decoder_layers.0.bias holds values beyond"):
        half.save(tmp_path / "big.nemo", half=True)
    assert not (tmp_path / "big.nemo").exists()
