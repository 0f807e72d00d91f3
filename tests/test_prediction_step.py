"""The prediction network's one-step path (`harken.modules.rnnt.lstm_step`, what decoding runs outside training):
bit-identical to torch's native LSTM, and within float rounding of the oneDNN LSTM that NeMo runs."""

from __future__ import annotations

import pytest
import torch

from harken.modules.rnnt import PredictionLSTM, lstm_step


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("with_state", [False, True])
def test_one_step_equals_torchs_lstm(layers, with_state):
    torch.manual_seed(layers)
    net = PredictionLSTM(24, 24, layers, dropout=0.2).eval()
    x = torch.randn(1, 3, 24)
    state = (torch.randn(layers, 3, 24), torch.randn(layers, 3, 24)) if with_state else None
    before = torch.backends.mkldnn.enabled
    try:
        torch.backends.mkldnn.enabled = False
        native = net.lstm(x, state)
    finally:
        torch.backends.mkldnn.enabled = before
    onednn = net.lstm(x, state)
    with torch.inference_mode():
        ours = net(x, state)
    for a, b, c in zip((ours[0], *ours[1]), (native[0], *native[1]), (onednn[0], *onednn[1])):
        assert torch.equal(a, b)
        assert torch.allclose(a, c, atol=1e-5)


def test_training_and_sequences_keep_torchs_lstm():
    torch.manual_seed(0)
    net = PredictionLSTM(8, 8, 2)
    x = torch.randn(5, 2, 8)
    net.eval()
    assert torch.equal(net(x)[0], net.lstm(x)[0])  # several steps: torch's LSTM, as before
    step = lstm_step(net.lstm, x[:1], None)[0]
    assert torch.allclose(step, net.lstm(x[:1])[0], atol=1e-5)
    net.train()
    out, _ = net(x[:1])
    out.sum().backward()  # training: torch's LSTM, gradients as before
    assert net.lstm.weight_hh_l1.grad is not None
