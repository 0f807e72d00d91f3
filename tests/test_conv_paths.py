"""The CPU depthwise-convolution routes (harken.modules.conv_autograd) against plain F.conv1d.

Every direction (forward, input gradient, weight gradient, bias gradient) must equal conv1d's within
float rounding for every geometry QuartzNet-family models use (stride 2, dilation 2, odd and even
kernels, bias) and some they do not; exported graphs must keep the plain convolution; bfloat16
inference must decode as float32 does.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from harken.export.onnx_export import plain_convolutions
from harken.inference.precision import bfloat16_supported, inference_dtype
from harken.modules.conv_asr import ConvASREncoder
from harken.modules.conv_autograd import DepthwiseConv1d, correlate_lags, depthwise_conv1d
from harken.modules.jasper_block import MaskedConv1d

# (batch, channels, frames, kernel, stride, padding, dilation, bias)
GEOMETRIES = [
    (2, 8, 50, 5, 1, 2, 1, True),
    (3, 16, 301, 33, 1, 16, 1, False),  # long enough for 32-frame blocks in the weight gradient
    (2, 8, 64, 33, 2, 16, 1, True),  # QuartzNet's first layer
    (2, 8, 77, 7, 1, 6, 2, False),
    (2, 8, 90, 87, 1, 86, 2, False),  # QuartzNet's dilated layer: the kernel spans more than the input
    (1, 4, 30, 6, 1, 1, 1, True),  # even kernel, not "same" padding
    (2, 8, 40, 4, 3, 0, 1, False),
    (2, 8, 40, 5, 1, 0, 3, True),
    (2, 4, 10, 9, 1, 4, 1, False),  # kernel about as long as the input
    (2, 4, 9, 5, 2, 2, 2, False),  # stride and dilation together: conv1d's own route
]


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("b,c,t,k,s,p,d,bias", GEOMETRIES)
def test_every_direction_equals_conv1d(b, c, t, k, s, p, d, bias):
    gen = torch.Generator().manual_seed(k * 100 + t)
    x = torch.randn(b, c, t, generator=gen, requires_grad=True)
    w = torch.randn(c, 1, k, generator=gen, requires_grad=True)
    bb = torch.randn(c, generator=gen, requires_grad=True) if bias else None
    leaves = [x, w] + ([bb] if bias else [])
    y = F.conv1d(x, w, bb, s, p, d, c)
    gy = torch.randn(y.shape, generator=gen)
    expected = torch.autograd.grad(y, leaves, gy)
    y2 = DepthwiseConv1d.apply(x, w, bb, s, p, d)
    got = torch.autograd.grad(y2, leaves, gy)
    assert y2.shape == y.shape
    assert rel(y2, y) < 1e-5
    for g2, g in zip(got, expected):
        assert g2.shape == g.shape and rel(g2, g) < 1e-5


@pytest.mark.parametrize("k,s,d", [(5, 1, 1), (4, 2, 1), (3, 1, 2)])
def test_gradcheck_in_double(k, s, d):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 13, dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(3, 1, k, dtype=torch.float64, generator=gen, requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, generator=gen, requires_grad=True)
    pad = d * (k - 1) // 2
    assert torch.autograd.gradcheck(lambda *a: DepthwiseConv1d.apply(*a, s, pad, d), (x, w, bias))


def test_correlate_lags_is_the_lagged_sum():
    gen = torch.Generator().manual_seed(2)
    g, x = torch.randn(2, 3, 45, generator=gen), torch.randn(2, 3, 50, generator=gen)
    out = correlate_lags(g, x, 7)
    xz = F.pad(x, (0, 7))
    direct = torch.stack([(g * xz[..., k:k + 45]).sum((0, 2)) for k in range(7)], 1)
    assert torch.allclose(out, direct, rtol=1e-5, atol=1e-5)


def test_no_grad_skips_the_function_and_matches():
    x, w = torch.randn(2, 6, 40), torch.randn(6, 1, 9, requires_grad=True)
    with torch.no_grad():
        y = depthwise_conv1d(x, w, None, 1, 4, 1)
    assert y.grad_fn is None and rel(y, F.conv1d(x, w.detach(), None, 1, 4, 1, 6)) < 1e-6
    assert type(depthwise_conv1d(x, w, None, 1, 4, 1).grad_fn).__name__ == "DepthwiseConv1dBackward"


def small_encoder() -> ConvASREncoder:
    block = {"repeat": 2, "stride": [1], "dilation": [1], "dropout": 0.0, "residual": True, "separable": True}
    jasper = [{"filters": 16, "repeat": 1, "kernel": [11], "stride": [2], "dilation": [1], "dropout": 0.0,
               "residual": False, "separable": True},
              {"filters": 16, "kernel": [13], **block},
              {"filters": 24, "kernel": [15], **block, "se": True},
              {"filters": 24, "repeat": 1, "kernel": [17], "stride": [1], "dilation": [2], "dropout": 0.0,
               "residual": False, "separable": True}]
    torch.manual_seed(0)
    return ConvASREncoder(jasper, feat_in=8).train()


def test_training_step_gradients_equal_the_plain_route():
    """A whole encoder (masks, padding rows, stride, dilation, SE): every parameter's gradient matches."""
    enc = small_encoder()
    feats, lengths = torch.randn(3, 8, 120), torch.tensor([120, 97, 64])

    def grads() -> dict[str, torch.Tensor]:
        enc.zero_grad()
        out, out_len = enc(feats, lengths)
        (out.square().mean(1) * (torch.arange(out.shape[2]) < out_len[:, None])).sum().backward()
        return {n: p.grad.clone() for n, p in enc.named_parameters()}

    fast = grads()
    with plain_convolutions(enc):
        plain = grads()
    for name in plain:
        assert rel(fast[name], plain[name]) < 1e-5, name


def test_export_keeps_the_plain_convolution():
    """Traced inside plain_convolutions, the graph holds conv1d only: no conv2d, no Python autograd op."""
    conv = MaskedConv1d(6, 6, 9, padding=4, groups=6)
    x, lengths = torch.randn(2, 6, 30), torch.tensor([30, 20])
    with plain_convolutions(conv):
        graph = str(torch.jit.trace(conv, (x, lengths)).inlined_graph)
    assert "conv1d" in graph or "_convolution" in graph
    assert "conv2d" not in graph and "PythonOp" not in graph
    # the check can fail: traced as it runs on a CPU, the route leaves no convolution in the graph at all
    fast = str(torch.jit.trace(conv, (x, lengths), check_trace=False).inlined_graph)
    assert "_convolution" not in fast and "conv1d" not in fast


def test_inference_dtype_refuses_unknown_and_keeps_float32():
    enc = small_encoder().eval()
    with pytest.raises(ValueError, match="dtype='float16'"):
        with inference_dtype(enc, "float16"):
            pass
    with inference_dtype(enc, "float32"):
        assert not torch.is_autocast_enabled("cpu")


@pytest.mark.skipif(not bfloat16_supported(), reason="this CPU has no native bfloat16")
def test_bfloat16_inference_stays_close():
    enc = small_encoder().eval()
    feats, lengths = torch.randn(2, 8, 100), torch.tensor([100, 80])
    with torch.inference_mode():
        ref = enc(feats, lengths)[0]
        with inference_dtype(enc, "bfloat16"):
            out = enc(feats, lengths)[0]
    assert out.dtype == torch.bfloat16
    assert rel(out.float(), ref) < 0.05  # bfloat16 keeps 8 bits of mantissa
    assert rel(out.float(), ref) > 0  # it did run in bfloat16
