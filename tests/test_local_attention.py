"""Local (sliding-window) self-attention, NeMo's `rel_pos_local_attn`: a window covering the utterance gives
full `rel_pos` attention; a small window gives full attention with the scores outside the window masked
(the positional terms are those of each offset); memory grows with T x window, not T x T."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import harken
from harken.modules.conformer import ConformerEncoder, RelPositionMultiHeadAttention, _sinusoids, relative_positions
from harken.modules.local_attention import local_attention

from .conftest import NEMO

FIXTURE = NEMO / "fastconformer_ctc_bpe"
TOL = 1e-5


@pytest.fixture(scope="module")
def model():
    return harken.load(FIXTURE / "model.nemo")


def _batch():
    b = np.load(FIXTURE / "batch_inputs.npz")  # probe.wav and probe2_2s.wav zero-padded to 3 s
    return torch.from_numpy(b["input_signal"]), torch.from_numpy(b["input_signal_length"])


def _encode(model, x, xl):
    with torch.inference_mode():
        return model.encode(x, xl)


def test_window_covering_the_utterance_equals_full_attention(model):
    x, xl = _batch()
    full, full_len = _encode(model, x, xl)
    t = full.shape[-1]  # 38 encoder frames
    assert np.abs(full[:1].numpy() - np.load(FIXTURE / "encoded.npy")).max() <= 1e-4  # still NeMo's encoder
    for window in ([t, t], [t - 1, t - 1], [t + 5, t + 2]):
        model.change_attention_model("rel_pos_local_attn", window)
        local, local_len = _encode(model, x, xl)
        assert torch.equal(local_len, full_len)
        for row, n in enumerate(full_len.tolist()):
            assert (local[row, :, :n] - full[row, :, :n]).abs().max() <= TOL
    model.change_attention_model("rel_pos", [-1, -1])
    again, _ = _encode(model, x, xl)
    assert torch.equal(again, full)


@pytest.mark.parametrize("window", [(4, 4), (6, 2), (0, 3), (3, 0), (1, 1)])
def test_small_window_equals_masked_full_attention(model, window):
    """Encoder level: local attention against harken's full attention with the band masked (NeMo's `regular`
    att_context_size), on a padded batch."""
    x, xl = _batch()
    model.change_attention_model("rel_pos", list(window))
    masked, lengths = _encode(model, x, xl)
    model.change_attention_model("rel_pos_local_attn", list(window))
    local, _ = _encode(model, x, xl)
    model.change_attention_model("rel_pos", [-1, -1])
    full, _ = _encode(model, x, xl)
    for row, n in enumerate(lengths.tolist()):
        assert (local[row, :, :n] - masked[row, :, :n]).abs().max() <= TOL
        assert (local[row, :, :n] - full[row, :, :n]).abs().max() > 1e-3  # the window does change things


def _reference(attn, x, valid, left, right):
    """Full relative-position attention with every score outside [t - left, t + right] masked."""
    t = x.shape[1]
    offset = torch.arange(t)[None, :] - torch.arange(t)[:, None]
    hidden = (offset < -left) | (offset > right)
    mask = ~(valid[:, None, :] & valid[:, :, None]) | hidden[None]
    attn.window = None
    return attn(x, relative_positions(t, x.shape[2], x.device, x.dtype), mask)


@pytest.mark.parametrize("left,right", [(3, 1), (0, 5), (7, 7), (2, 0), (40, 3)])
@pytest.mark.parametrize("block", [1, 5, None])
def test_attention_layer_against_a_masked_reference(left, right, block):
    """One layer, random weights and biases, rows of different lengths, several query blocks."""
    torch.manual_seed(0)
    attn = RelPositionMultiHeadAttention(n_heads=4, d_model=32, dropout=0.0, shared_bias=None).eval()
    with torch.no_grad():
        attn.pos_bias_u.normal_()
        attn.pos_bias_v.normal_()
    x = torch.randn(3, 23, 32)
    valid = torch.arange(23)[None, :] < torch.tensor([23, 17, 1])[:, None]
    with torch.no_grad():
        want = _reference(attn, x, valid, left, right)
        b, t, _ = x.shape
        q = attn.linear_q(x).view(b, t, attn.h, attn.d_k)
        k = attn.linear_k(x).view(b, t, attn.h, attn.d_k).transpose(1, 2)
        v = attn.linear_v(x).view(b, t, attn.h, attn.d_k).transpose(1, 2)
        p = attn.linear_pos(_sinusoids(left, -right, 32, x.device, x.dtype)).view(-1, attn.h, attn.d_k).transpose(0, 1)
        out = local_attention((q + attn.pos_bias_u).transpose(1, 2), (q + attn.pos_bias_v).transpose(1, 2), k, v, p,
                              valid, left, right, attn.dropout, block=block)
        got = attn.linear_out(out.transpose(1, 2).reshape(b, t, -1))
        attn.window = (left, right)
        layer_out = attn(x, _sinusoids(left, -right, 32, x.device, x.dtype), None, valid)
    assert (got - want).abs().max() <= TOL
    assert (layer_out - want).abs().max() <= TOL  # padded queries too: their weights are zero in both


def test_gradients_flow_through_local_attention():
    torch.manual_seed(1)
    enc = ConformerEncoder(feat_in=16, n_layers=1, d_model=16, n_heads=2, subsampling_factor=4,
                           subsampling_conv_channels=8, conv_kernel_size=3, self_attention_model="rel_pos_local_attn",
                           att_context_size=[2, 2], dropout=0.0, dropout_pre_encoder=0.0, dropout_emb=0.0)
    feats = torch.randn(2, 16, 80, requires_grad=True)
    out, _ = enc(feats, torch.tensor([80, 50]))
    out.sum().backward()
    assert feats.grad is not None and torch.isfinite(feats.grad).all()


def test_config_keys_and_archive_round_trip(tmp_path):
    model = harken.load(FIXTURE / "model.nemo")
    x, xl = _batch()
    model.change_attention_model("rel_pos_local_attn", [8, 8])
    assert model.cfg["encoder"]["self_attention_model"] == "rel_pos_local_attn"
    assert model.cfg["encoder"]["att_context_size"] == [8, 8]
    before, _ = _encode(model, x, xl)
    model.save(tmp_path / "local.nemo")
    again = harken.load(tmp_path / "local.nemo")
    assert again.encoder.self_attention_model == "rel_pos_local_attn" and again.encoder.att_context_size == [8, 8]
    after, _ = _encode(again, x, xl)
    assert torch.equal(before, after)
    model.change_attention_model(att_context_size=[2, 3])  # None keeps the attention model, as NeMo's
    assert model.encoder.self_attention_model == "rel_pos_local_attn"
    assert model.cfg["encoder"]["att_context_size"] == [2, 3]
    model.change_attention_model("rel_pos", update_config=False)  # keeps [2, 3]: a banded full attention
    assert model.encoder.att_context_size == [2, 3]
    assert model.cfg["encoder"]["self_attention_model"] == "rel_pos_local_attn"


def test_bad_settings_are_refused(model):
    for bad in ([-1, -1], [0, 0], [-1, 4]):
        with pytest.raises(ValueError, match="rel_pos_local_attn needs"):
            model.change_attention_model("rel_pos_local_attn", bad)
    with pytest.raises(ValueError, match="several look-aheads"):
        model.change_attention_model("rel_pos_local_attn", [[70, 13], [70, 1]])
    with pytest.raises(ValueError, match="abs_pos"):
        model.change_attention_model("abs_pos")
    assert model.encoder.self_attention_model == "rel_pos"  # unchanged by the refusals


PEAK_SCRIPT = """
import json, resource, sys, torch
from harken.modules.conformer import ConformerEncoder
torch.set_num_threads(1)
enc = ConformerEncoder(feat_in=80, n_layers=2, d_model=32, n_heads=4, subsampling="striding", subsampling_factor=4,
                       subsampling_conv_channels=8, conv_kernel_size=9, self_attention_model="rel_pos_local_attn",
                       att_context_size=[64, 64]).eval()
feats = torch.randn(1, 80, 60000)  # ten minutes of 10 ms frames
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with torch.inference_mode():
    out, n = enc(feats, torch.tensor([60000]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"frames": out.shape[-1], "finite": bool(torch.isfinite(out).all()), "peak_kb": after - before}))
"""


def test_ten_minutes_fit_in_little_memory():
    """A tiny Conformer on 10 minutes of random features: 15,000 encoder frames. Full attention would hold
    [4 heads, 15000, 15000] float32 scores (3.6 GB) and more than twice that for its positional terms."""
    run = subprocess.run([sys.executable, "-c", PEAK_SCRIPT], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["frames"] == 15000 and got["finite"]
    full_scores_mb = 4 * 15000 * 15000 * 4 / 2**20
    assert got["peak_kb"] / 1024 < min(400, full_scores_mb / 8)
