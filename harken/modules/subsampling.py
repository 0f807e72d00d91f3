"""Convolutional subsampling in front of a Conformer (NeMo's `ConvSubsampling`): `striding` (x4 with two
3x3 stride-2 convs) and `dw_striding` (FastConformer: a full conv, then depthwise + pointwise pairs).

Before every layer the frames past each row's current length are zeroed, so a padded row computes
exactly what it computes alone (NeMo does the same since its masked-conv fix).
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
        own = False  # x is a tensor made here, which inference may overwrite (the first is the caller's)
        for layer in self.conv:
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


def _masked(x: torch.Tensor, lengths: torch.Tensor, in_place: bool) -> torch.Tensor:
    """x [B, C, T, F] with frames past each row's length zeroed (x itself when no row is shorter: multiplying by
    ones changes nothing). In place when allowed: at the first layer these maps are the largest tensors of the
    encoder (256 channels x T/2 x F/2 floats: 120 MB for 60 s)."""
    if not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()) and bool((lengths >= x.shape[2]).all()):
        return x  # (a traced graph must keep the mask: its inputs may be padded)
    mask = _time_mask(x, lengths)
    return x.mul_(mask) if in_place else x * mask


def _time_mask(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return (torch.arange(x.shape[2], device=x.device)[None, :] < lengths[:, None]).to(x.dtype)[:, None, :, None]
