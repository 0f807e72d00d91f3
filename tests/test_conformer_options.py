"""Conformer options real NeMo checkpoints use: `use_bias: false` (Parakeet TDT 0.6B v2, 1.1B), which drops the
biases of every linear and conv layer inside the Conformer layers.

tests/data/conformer_no_bias was made by NeMo 3.0.0 (`bench/make_real_size.py --fixture`): a tiny FastConformer
TDT with `use_bias: false`, random weights and perturbed BatchNorm statistics, with NeMo's eval-mode encoder output
and greedy token ids on its probe.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import harken
from harken.modules.conformer import ConformerEncoder

FIXTURE = Path(__file__).parent / "data" / "conformer_no_bias"
IN_LAYERS = ("feed_forward1.linear1", "feed_forward1.linear2", "feed_forward2.linear1", "feed_forward2.linear2",
             "self_attn.linear_q", "self_attn.linear_k", "self_attn.linear_v", "self_attn.linear_out",
             "conv.pointwise_conv1", "conv.depthwise_conv", "conv.pointwise_conv2")


def _encoder(use_bias: bool) -> ConformerEncoder:
    torch.manual_seed(0)
    return ConformerEncoder(feat_in=16, n_layers=2, d_model=16, n_heads=2, subsampling="dw_striding",
                            subsampling_factor=4, subsampling_conv_channels=8, conv_kernel_size=5,
                            use_bias=use_bias).eval()


def test_use_bias_false_drops_exactly_the_layers_biases():
    with_bias, without = _encoder(True).state_dict(), _encoder(False).state_dict()
    dropped = {f"layers.{i}.{name}.bias" for i in range(2) for name in IN_LAYERS}
    assert dropped <= set(with_bias)
    assert set(with_bias) - set(without) == dropped
    assert not set(without) - set(with_bias)
    assert "pre_encode.out.bias" in without and "layers.0.norm_out.bias" in without  # subsampling, norms keep theirs
    x, n = torch.randn(2, 16, 40), torch.tensor([40, 31])
    with torch.inference_mode():
        out, length = _encoder(False)(x, n)
    assert out.shape == (2, 16, 10) and length.tolist() == [10, 8]


def test_nemo_use_bias_false_archive_matches_nemo():
    model = harken.load(FIXTURE / "model.nemo")
    assert model.cfg["encoder"]["use_bias"] is False
    assert model.encoder.layers[0].feed_forward1.linear1.bias is None
    x, _ = sf.read(FIXTURE / "probe.wav", dtype="float32")
    with torch.inference_mode():
        encoded, encoded_len = model(torch.from_numpy(x)[None], torch.tensor([len(x)]))
        seq = model.decode_encoded(encoded, encoded_len)[0]
    nemo = np.load(FIXTURE / "encoded.npy")
    assert encoded.shape == nemo.shape
    assert float(np.abs(encoded.numpy() - nemo).max()) < 1e-5
    assert seq.token_ids == json.loads((FIXTURE / "greedy.json").read_text())["ids"]


def test_use_bias_false_survives_save_and_load(tmp_path):
    model = harken.load(FIXTURE / "model.nemo")
    model.save(tmp_path / "again.nemo")
    again = harken.load(tmp_path / "again.nemo")
    assert again.cfg["encoder"]["use_bias"] is False
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key])


def test_relative_shift_view_equals_transformer_xl_trick():
    from harken.modules.conformer import _rel_shift

    for t in (1, 2, 7, 40):
        x = torch.randn(2, 3, t, 2 * t - 1)
        padded = torch.nn.functional.pad(x, (1, 0)).view(2, 3, 2 * t, t)
        assert torch.equal(_rel_shift(x), padded[:, :, 1:].reshape(2, 3, t, 2 * t - 1)[..., :t])


def test_unpadded_input_skips_masks_without_changing_a_bit():
    """Full-length rows: the attention and subsampling masks hide nothing, so they are skipped; the outputs are
    the same bits as with them, a padded batch agrees, and training still backpropagates."""
    from harken.modules.conformer import relative_positions
    from harken.modules.subsampling import _masked, _time_mask

    enc = _encoder(False)
    attn = enc.layers[0].self_attn
    x = torch.randn(2, 12, 16)
    pos = relative_positions(12, 16, x.device, x.dtype)
    with torch.inference_mode():
        assert torch.equal(attn(x, pos, None), attn(x, pos, torch.zeros(2, 12, 12, dtype=torch.bool)))
        maps = torch.randn(2, 4, 12, 5)
        full = torch.tensor([12, 12])
        assert _masked(maps, full, False) is maps
        short = torch.tensor([12, 7])
        assert torch.equal(_masked(maps.clone(), short, True), maps * _time_mask(maps, short))
        feats = torch.randn(1, 16, 40)
        alone, _ = enc(feats, torch.tensor([40]))
        batch = torch.zeros(2, 16, 40)
        batch[0], batch[1, :, :24] = feats[0], feats[0, :, :24]
        both, _ = enc(batch, torch.tensor([40, 24]))
    assert torch.allclose(alone[0], both[0], atol=1e-5)
    enc.train()
    feats = feats.clone().requires_grad_()
    out, _ = enc(feats, torch.tensor([40]))
    out.square().sum().backward()
    assert feats.grad is not None and enc.layers[0].self_attn.linear_q.weight.grad is not None


def test_subsampling_in_slices_is_bit_identical(monkeypatch):
    """Inference runs dw_striding's first two convs over slices of time (conv1's map never exists whole): the
    output is the same bits as the whole-tensor path training takes, padded rows included."""
    import harken.modules.subsampling as subsampling

    torch.manual_seed(0)
    sub = subsampling.ConvSubsampling("dw_striding", 8, 80, 32, 16).eval()
    x, lengths = torch.randn(3, 203, 80), torch.tensor([203, 150, 9])
    whole, whole_len = sub(x, lengths)  # grad enabled: no slicing
    for size in (128, 7, 1):
        monkeypatch.setattr(subsampling, "SLICE", size)
        with torch.inference_mode():
            sliced, sliced_len = sub(x, lengths)
        assert torch.equal(sliced, whole.detach()) and torch.equal(sliced_len, whole_len)


def test_size_guard_takes_a_real_vocabulary_but_not_a_thousand_blocks():
    """Parakeet's joint lists 1,024 tokens: a vocabulary is data, while 1,001 encoder blocks are refused."""
    import pytest

    from harken.models.sizes import check_config_sizes

    vocabulary = [f"tok{i}" for i in range(1024)]
    check_config_sizes({"joint": {"num_classes": 1024, "vocabulary": vocabulary}, "labels": vocabulary})
    with pytest.raises(ValueError, match="HARKEN_MAX_LAYERS"):
        check_config_sizes({"encoder": {"jasper": [{"filters": 8}] * 1001}})
