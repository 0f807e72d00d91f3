"""Convolutional subsampling in front of a Conformer (NeMo's `ConvSubsampling`): `striding` (x4 with two
3x3 stride-2 convs) and `dw_striding` (FastConformer: a full conv, then depthwise + pointwise pairs).

Before every layer that mixes frames (the 3x3 convs), and at the end, the frames past each row's current length
are zeroed, so a padded row computes exactly what it computes alone (NeMo does the same since its masked-conv
fix, before every layer; ReLU and the 1x1 convs act per frame, so their padded output is zeroed by the next mask).
"""

from __future__ import annotations

import math

import torch
from torch import nn

KERNEL, STRIDE, PAD = 3, 2, 1


def subsampled_length(lengths: torch.Tensor, times: int) -> torch.Tensor:
    for _ in range(times):
        lengths = torch.div(lengths + 2 * PAD - KERNEL, STRIDE, rounding_mode="floor") + 1
    return lengths


class ConvSubsampling(nn.Module):
    def __init__(self, subsampling: str, subsampling_factor: int, feat_in: int, feat_out: int, conv_channels: int):
        super().__init__()
        steps = int(math.log2(subsampling_factor))
        if 2 ** steps != subsampling_factor or steps < 1:
            raise ValueError(f"subsampling_factor={subsampling_factor}: must be a power of 2")
        layers: list[nn.Module] = [nn.Conv2d(1, conv_channels, KERNEL, STRIDE, PAD), nn.ReLU()]
        for _ in range(steps - 1):
            if subsampling == "striding":
                layers += [nn.Conv2d(conv_channels, conv_channels, KERNEL, STRIDE, PAD), nn.ReLU()]
            elif subsampling == "dw_striding":
                layers += [nn.Conv2d(conv_channels, conv_channels, KERNEL, STRIDE, PAD, groups=conv_channels),
                           nn.Conv2d(conv_channels, conv_channels, 1), nn.ReLU()]
            else:
                raise ValueError(f"subsampling={subsampling!r}: harken supports striding and dw_striding")
        self.conv = nn.Sequential(*layers)
        freq = int(subsampled_length(torch.tensor(feat_in), steps))
        self.out = nn.Linear(conv_channels * freq, feat_out)
        self.factor = subsampling_factor

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, T, F] features -> ([B, T', feat_out], lengths')."""
        x = x.unsqueeze(1)
        lengths = lengths.long()
        layers = list(self.conv)
        own = False  # x is a tensor made here, which inference may overwrite (the first is the caller's)
        if not torch.is_grad_enabled() and not _tracing() and len(layers) > 2 and _depthwise_strided(layers[2]):
            x, lengths = _first_two_in_slices(layers[0], layers[2], x, lengths)
            layers, own = layers[3:], True
        for layer in layers:
            if _mixes_time(layer):  # per-frame layers (1x1 convs, ReLU) need no mask: the next one zeroes their padding
                x = _masked(x, lengths, own and not torch.is_grad_enabled())
            if isinstance(layer, nn.ReLU) and own and not torch.is_grad_enabled():
                x = torch.relu_(x)
            else:
                x = layer(x)
            own = True
            if isinstance(layer, nn.Conv2d) and layer.stride != (1, 1):
                lengths = subsampled_length(lengths, 1)
        x = _masked(x, lengths, not torch.is_grad_enabled())
        b, c, t, f = x.shape
        return self.out(x.transpose(1, 2).reshape(b, t, c * f)), lengths


SLICE = 128  # output frames of the second strided conv that inference computes at a time


def _depthwise_strided(layer: nn.Module) -> bool:
    """dw_striding's second conv. (Slicing a full conv, `striding`'s, can change the last bits: oneDNN picks
    other kernels for narrow slices.)"""
    return (isinstance(layer, nn.Conv2d) and layer.stride == (STRIDE, STRIDE) and layer.kernel_size == (KERNEL, KERNEL)
            and layer.groups == layer.in_channels == layer.out_channels)


def _first_two_in_slices(conv1: nn.Conv2d, conv2: nn.Conv2d, x: torch.Tensor, lengths: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Inference: conv1 -> ReLU -> conv2 over slices of time, so conv1's output, the largest map of the encoder
    (256 channels x T/2 x F/2: 200 MB for 60 s of 128 mels, twice that while oneDNN lays it out), never exists
    whole. Each slice takes the frames its outputs see, zeros where the sequence ends (the convs' own padding,
    made explicit) and the same length masks: the output is the same, bit for bit."""
    x = _masked(x, lengths, False)
    lengths1 = subsampled_length(lengths, 1)
    t1 = (x.shape[2] - 1) // STRIDE + 1
    t2 = (t1 - 1) // STRIDE + 1
    x = nn.functional.pad(x, (0, 0, PAD, PAD))
    out = None
    for o0 in range(0, t2, SLICE):
        o1 = min(t2, o0 + SLICE)
        a, e = max(0, STRIDE * o0 - PAD), min(t1, STRIDE * o1)  # conv1 frames these outputs see
        h = nn.functional.conv2d(x[:, :, STRIDE * a: STRIDE * (e - 1) + KERNEL], conv1.weight, conv1.bias, STRIDE,
                                 (0, conv1.padding[1]))
        h = torch.relu_(_masked(h, lengths1, True, start=a))
        h = nn.functional.pad(h, (0, 0, a - (STRIDE * o0 - PAD), STRIDE * o1 - e))
        y = nn.functional.conv2d(h, conv2.weight, conv2.bias, STRIDE, (0, conv2.padding[1]), groups=conv2.groups)
        if out is None:
            out = y.new_empty(y.shape[0], y.shape[1], t2, y.shape[3])
        out[:, :, o0:o1] = y
    return out, subsampled_length(lengths1, 1)


def _mixes_time(layer: nn.Module) -> bool:
    """A layer whose output frame sees its neighbours (a 3x3 conv): its input's padded frames must be zeros."""
    return isinstance(layer, nn.Conv2d) and layer.kernel_size[0] > 1


def _tracing() -> bool:
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


def _masked(x: torch.Tensor, lengths: torch.Tensor, in_place: bool, start: int = 0) -> torch.Tensor:
    """x [B, C, T, F] (frames start, start + 1, ...) with frames past each row's length zeroed; x itself when no
    row is shorter (multiplying by ones changes nothing). In place when allowed: early maps are large."""
    if not _tracing() and bool((lengths >= start + x.shape[2]).all()):
        return x  # (a traced graph must keep the mask: its inputs may be padded)
    mask = _time_mask(x, lengths, start)
    return x.mul_(mask) if in_place else x * mask


def _time_mask(x: torch.Tensor, lengths: torch.Tensor, start: int = 0) -> torch.Tensor:
    frames = torch.arange(start, start + x.shape[2], device=x.device)
    return (frames[None, :] < lengths[:, None]).to(x.dtype)[:, None, :, None]
