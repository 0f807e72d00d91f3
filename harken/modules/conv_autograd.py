"""Depthwise 1-D convolution on a CPU by the fastest formulation for each direction.

oneDNN's depthwise conv1d runs QuartzNet's long kernels at a few GFLOP/s forward and in the weight
gradient; the same convolution as a channels-last conv2d is 10x faster forward but slower still in its
weight gradient and with any dilation. Measured per direction (bench/bench_conv.py):

- forward: a channels-last conv2d; a dilated convolution is first split into its `dilation` phases
  (each an undilated convolution of every d-th frame), which oneDNN runs 5-20x faster than either
  dilated form;
- input gradient: oneDNN's conv1d backward, except with dilation: the forward above applied to the
  output gradient with the kernel flipped (10x faster there);
- weight gradient: for each channel a cross-correlation of the input with the output gradient over
  K lags, computed as one batched matrix product over blocks of frames (`correlate_lags`), 2-6x
  faster than any oneDNN route.

The result equals `F.conv1d` within float rounding. It runs only on a CPU, only for depthwise
convolutions (groups == in == out channels); exported graphs never see it (see export.plain_convolutions).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _cl(x: torch.Tensor) -> torch.Tensor:
    """[B, C, T] -> [B, C, 1, T] laid out channels-last: the layout oneDNN's fast depthwise kernels use."""
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def _dw_undilated(x: torch.Tensor, w: torch.Tensor, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """Depthwise convolution of `x` [B, C, T] with `w` [C, 1, K], no dilation."""
    return F.conv2d(_cl(x), w.unsqueeze(2), None, (1, stride), (0, padding), 1, w.shape[0]).squeeze(2)


def dw_valid(x: torch.Tensor, w: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """Depthwise convolution without padding ("valid"), stride 1, any dilation d.

    Output frame d*t + phase only sees input frames of the same phase, so the d phases are d undilated
    convolutions, stacked along the batch axis for one call and interleaved back afterwards.
    """
    if dilation == 1:
        return _dw_undilated(x, w)
    b, c, t = x.shape
    d, k = dilation, w.shape[2]
    n_out = t - d * (k - 1)
    frames = -(-t // d)
    x = F.pad(x, (0, frames * d - t))
    phases = x.reshape(b, c, frames, d).permute(3, 0, 1, 2).reshape(d * b, c, frames)
    y = _dw_undilated(phases, w)  # [d * B, C, frames - K + 1]
    y = y.reshape(d, b, c, -1).permute(1, 2, 3, 0).reshape(b, c, -1)
    return y[..., :n_out]


def correlate_lags(g: torch.Tensor, x: torch.Tensor, lags: int) -> torch.Tensor:
    """out[c, k] = sum over b, t of g[b, c, t] * x[b, c, t + k], for k < `lags` ([C, lags]).

    `x` is read as zero past its end. Cut time into blocks of L frames: block m of g against frames
    [mL, mL + L + lags - 1) of x is an L x (L + lags - 1) matrix product per channel (all blocks at once:
    one bmm over channels, blocks and batch summed inside the product), whose diagonal k holds the lag-k
    sums. It costs (L + lags - 1) / lags times the direct sum's arithmetic, but as a matrix product runs
    many times faster; L = 16 for short inputs and 32 otherwise was fastest (bench/bench_conv.py).
    """
    b, c, t = g.shape
    size = 16 if t < 200 else 32
    blocks = -(-t // size)
    g = F.pad(g, (0, blocks * size - t)).reshape(b, c, blocks, size)
    g = g.permute(1, 3, 0, 2).reshape(c, size, b * blocks)
    width = size + lags - 1
    need = (blocks - 1) * size + width
    x = F.pad(x, (0, need - x.shape[2])) if x.shape[2] < need else x[..., :need]
    rows = x.unfold(2, width, size)  # [B, C, blocks, width], overlapping windows
    rows = rows.permute(1, 0, 2, 3).reshape(c, b * blocks, width)
    m = torch.bmm(g, rows)  # [C, L, width]
    return m.as_strided((c, size, lags), (size * width, width + 1, 1)).sum(1)


def dw_weight_grad(x: torch.Tensor, gy: torch.Tensor, kernel: int, stride: int, padding: int,
                   dilation: int) -> torch.Tensor:
    """Gradient of a depthwise conv1d's weight [C, 1, K] from its input and output gradient.

    dW[c, k] = sum g[b, c, t] * xp[b, c, s*t + d*k]. Both stride and dilation reduce to phases of a
    stride-1, dilation-1 correlation: with stride s, lag k = s*j + r reads phase r of xp at t + j; with
    dilation d, output frame d*u + r reads phase r of xp at u + k.
    """
    c = x.shape[1]
    if stride > 1 and dilation > 1:  # no model uses both; oneDNN's own backward is right, if slow
        w = x.new_empty(c, 1, kernel)
        return torch.ops.aten.convolution_backward(
            gy, x, w, None, [stride], [padding], [dilation], False, [0], c, [False, True, False])[1]
    xp = F.pad(x, (padding, padding))
    if stride == 1 and dilation == 1:
        return correlate_lags(gy, xp, kernel).unsqueeze(1)
    if dilation == 1:
        out = gy.new_zeros(c, kernel)
        for r in range(stride):
            lags = -(-(kernel - r) // stride)
            if lags > 0:
                out[:, r::stride] = correlate_lags(gy, xp[..., r::stride], lags)
        return out.unsqueeze(1)
    out = gy.new_zeros(c, kernel)
    for r in range(dilation):
        out += correlate_lags(gy[..., r::dilation], xp[..., r::dilation], kernel)
    return out.unsqueeze(1)


def dw_forward(x: torch.Tensor, w: torch.Tensor, stride: int, padding: int, dilation: int) -> torch.Tensor:
    """The fast depthwise forward (no bias)."""
    if dilation == 1:
        return _dw_undilated(x, w, stride, padding)
    if stride == 1:
        return dw_valid(F.pad(x, (padding, padding)), w, dilation)
    return F.conv1d(x, w, None, stride, padding, dilation, w.shape[0])


def dw_input_grad(gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, stride: int, padding: int,
                  dilation: int) -> torch.Tensor:
    """Gradient of a depthwise conv1d's input: oneDNN's conv1d backward is fast here without dilation
    (as fast as the flipped-kernel forward, or a few per cent faster); with dilation it is 10x slower than
    the correlation of the output gradient with the flipped kernel, by the phase-split forward."""
    if stride == 1 and dilation > 1:
        edge = dilation * (w.shape[2] - 1)
        left = edge - padding
        right = x.shape[2] + edge - gy.shape[2] - left
        return dw_valid(F.pad(gy, (left, right)), w.flip(-1), dilation)
    return torch.ops.aten.convolution_backward(
        gy, x, w, None, [stride], [padding], [dilation], False, [0], w.shape[0], [True, False, False])[0]


class DepthwiseConv1d(torch.autograd.Function):
    """conv1d(x, w, b, stride, padding, dilation, groups=C) with each direction by its fastest route."""

    @staticmethod
    def forward(ctx, x, w, bias, stride: int, padding: int, dilation: int):
        ctx.save_for_backward(x, w)
        ctx.geometry = (stride, padding, dilation)
        ctx.has_bias = bias is not None
        y = dw_forward(x, w.to(x.dtype), stride, padding, dilation)
        return y if bias is None else y + bias.to(y.dtype)[:, None]

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        stride, padding, dilation = ctx.geometry
        gy = gy.contiguous()
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = dw_input_grad(gy, x, w.to(gy.dtype), stride, padding, dilation)
        if ctx.needs_input_grad[1]:
            gw = dw_weight_grad(x.to(gy.dtype), gy, w.shape[2], stride, padding, dilation).to(w.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = gy.sum((0, 2))
        return gx, gw, gb, None, None, None


def depthwise_conv1d(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int,
                     dilation: int) -> torch.Tensor:
    """Depthwise conv1d on a CPU: the fast forward alone when no gradient is wanted, else the Function.

    oneDNN's bfloat16 channels-last depthwise kernel never returns for under 32 channels with kernels of
    15 or more (torch 2.13, AVX512-BF16); such layers keep conv1d in bfloat16."""
    low = x.dtype != torch.float32 or torch.is_autocast_enabled("cpu")
    if low and w.shape[0] < 32:
        return F.conv1d(x, w, bias, stride, padding, dilation, w.shape[0])
    if torch.is_grad_enabled() and (x.requires_grad or w.requires_grad
                                    or (bias is not None and bias.requires_grad)):
        return DepthwiseConv1d.apply(x, w, bias, stride, padding, dilation)
    y = dw_forward(x, w.to(x.dtype), stride, padding, dilation)
    return y if bias is None else y + bias.to(y.dtype)[:, None]
