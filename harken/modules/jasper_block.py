"""The building blocks of Jasper-family encoders: masked 1-D convolution, squeeze-excite, the block.

Module layout and attribute names (`mconv`, `res`, `mout`, `conv`, `fc`) follow NeMo's so that a
NeMo state dict loads key for key. Convolutions are masked: frames past each row's length are zeroed
before every convolution, so a padded batch gives the same valid outputs as each row alone.
"""

from __future__ import annotations

import torch
from torch import nn

from harken.modules.conv_autograd import depthwise_conv1d

ACTIVATIONS = {
    "hardtanh": lambda: nn.Hardtanh(0.0, 20.0),
    "relu": lambda: nn.ReLU(),
    "selu": lambda: nn.SELU(),
    "swish": lambda: nn.SiLU(),
    "silu": lambda: nn.SiLU(),
    "gelu": lambda: nn.GELU(),
}


def make_activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"activation={name!r}: use one of {sorted(ACTIVATIONS)}") from None


def same_padding(kernel: int, stride: int, dilation: int) -> int:
    if stride > 1 and dilation > 1:
        raise ValueError("a block may have stride > 1 or dilation > 1, not both")
    return dilation * (kernel - 1) // 2


def scaled_kernel(kernel: int, factor: float) -> int:
    """Kernel size scaled by `kernel_size_factor`, kept odd (as NeMo does)."""
    k = max(int(kernel * factor), 1)
    return k + 1 if k % 2 == 0 else k


def lengths_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class MaskedConv1d(nn.Module):
    """Conv1d that zeroes padded frames first and returns the new lengths."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, groups: int = 1, bias: bool = False, use_mask: bool = True):
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, kernel, stride=stride, padding=padding, dilation=dilation,
                              groups=groups, bias=bias)
        self.use_mask = use_mask
        self.keeps_length = stride == 1 and 2 * padding == dilation * (kernel - 1)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        if self.keeps_length:
            return lengths
        c = self.conv
        span = c.dilation[0] * (c.kernel_size[0] - 1) + 1
        return torch.div(lengths + 2 * c.padding[0] - span, c.stride[0], rounding_mode="trunc") + 1

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.use_mask:
            x = x * lengths_mask(lengths, x.shape[2])[:, None, :].to(x.dtype)
        return self._convolve(x), self.output_lengths(lengths)

    def _convolve(self, x: torch.Tensor) -> torch.Tensor:
        """Same result as `self.conv(x)`, by the fastest route on a CPU.

        oneDNN's depthwise conv1d is slow for QuartzNet's long kernels (about 3 GFLOP/s) in every
        direction; `depthwise_conv1d` picks the fastest formulation per direction (forward, input and
        weight gradient; see conv_autograd). A 1x1 convolution is a matrix product. On CUDA the plain
        module is used. Export replaces this method by the plain module (export.plain_convolutions).
        """
        c = self.conv
        if x.device.type != "cpu":
            return c(x)
        if c.groups == c.in_channels == c.out_channels and c.kernel_size[0] > 1 and c.padding_mode == "zeros":
            return depthwise_conv1d(x, c.weight, c.bias, c.stride[0], c.padding[0], c.dilation[0])
        if c.kernel_size[0] == 1 and c.groups == 1 and c.stride[0] == 1 and c.padding[0] == 0:
            y = torch.matmul(c.weight.squeeze(2), x)
            return y if c.bias is None else y + c.bias[:, None]
        return c(x)


class SqueezeExcite(nn.Module):
    """Channel gating from the masked time-average of each row."""

    def __init__(self, channels: int, reduction_ratio: int = 8, context_window: int = -1,
                 activation: nn.Module | None = None):
        super().__init__()
        if context_window > 0:
            raise ValueError(
                f"se_context_size={context_window}: only -1 (global context) is supported; NeMo's "
                "limited-context SE does not produce valid shapes at inference either"
            )
        self.context_window = context_window
        self.fc = nn.Sequential(
            nn.Linear(channels, channels // reduction_ratio, bias=False),
            activation if activation is not None else nn.ReLU(),
            nn.Linear(channels // reduction_ratio, channels, bias=False),
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dtype = x.dtype
        with torch.autocast(x.device.type, enabled=False):
            mask = lengths_mask(lengths, x.shape[2])[:, None, :]
            x = x.float().masked_fill(~mask, 0.0)
            pooled = x.sum(dim=-1, keepdim=True) / mask.sum(dim=-1, keepdim=True).to(x.dtype)
            gate = torch.sigmoid(self.fc(pooled.transpose(1, 2)).transpose(1, 2))
            return (x * gate).to(dtype), lengths


class JasperBlock(nn.Module):
    """`repeat` x (conv -> BN -> act -> dropout), with the last act after the residual sum.

    Residual: a 1x1 conv + BN from the block input (or, with dense residuals, from every earlier
    dense block's input) added to (or max-ed with) the main path.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        repeat: int = 3,
        kernel: int = 11,
        stride: int = 1,
        dilation: int = 1,
        dropout: float = 0.2,
        activation: nn.Module | None = None,
        residual: bool = True,
        groups: int = 1,
        separable: bool = False,
        residual_mode: str = "add",
        residual_panes: list[int] | None = None,
        conv_mask: bool = True,
        se: bool = False,
        se_reduction_ratio: int = 16,
        se_context_window: int = -1,
        stride_last: bool = False,
        normalization: str = "batch",
    ):
        super().__init__()
        if normalization != "batch":
            raise ValueError(f"normalization_mode={normalization!r}: only 'batch' is supported")
        if residual_mode not in ("add", "max", "stride_add"):
            raise ValueError(f"residual_mode={residual_mode!r}: use add, max or stride_add")
        activation = activation if activation is not None else nn.Hardtanh(0.0, 20.0)
        self.conv_mask, self.residual_mode = conv_mask, residual_mode
        padding = same_padding(kernel, stride, dilation)
        layers: list[nn.Module] = []
        ch = in_ch
        for i in range(repeat):
            last = i == repeat - 1
            s = stride if (last or not stride_last) else 1
            layers += self._conv_bn(ch, out_ch, kernel, s, dilation, padding, groups, separable)
            if not last:
                layers += [activation, nn.Dropout(dropout)]
            ch = out_ch
        if se:
            layers.append(SqueezeExcite(out_ch, se_reduction_ratio, se_context_window, activation))
        self.mconv = nn.ModuleList(layers)

        panes = list(residual_panes or [])
        self.dense_residual = residual and bool(panes)
        if residual:
            res_stride = stride if residual_mode == "stride_add" else 1
            self.res = nn.ModuleList(
                nn.ModuleList(self._conv_bn(p, out_ch, 1, res_stride, 1, 0, 1, False))
                for p in (panes or [in_ch])
            )
        else:
            self.res = None
        self.mout = nn.Sequential(activation, nn.Dropout(dropout))

    def _conv_bn(self, in_ch, out_ch, kernel, stride, dilation, padding, groups, separable) -> list[nn.Module]:
        def conv(i, o, k, s, d, p, g):
            return MaskedConv1d(i, o, k, stride=s, padding=p, dilation=d, groups=g, use_mask=self.conv_mask)

        if separable:
            layers = [conv(in_ch, in_ch, kernel, stride, dilation, padding, in_ch),
                      conv(in_ch, out_ch, 1, 1, 1, 0, groups)]
        else:
            layers = [conv(in_ch, out_ch, kernel, stride, dilation, padding, groups)]
        return layers + [nn.BatchNorm1d(out_ch, eps=1e-3, momentum=0.1)]

    def forward(self, inputs: list[torch.Tensor], lengths: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """`inputs` is the list of earlier outputs kept for dense residuals (last = this block's input)."""
        out, lens = inputs[-1], lengths
        for layer in self.mconv:
            if isinstance(layer, (MaskedConv1d, SqueezeExcite)):
                out, lens = layer(out, lens)
            else:
                out = layer(out)
        if self.res is not None:
            for source, branch in zip(inputs, self.res):
                r = source
                for layer in branch:
                    r = layer(r, lengths)[0] if isinstance(layer, MaskedConv1d) else layer(r)
                out = torch.max(out, r) if self.residual_mode == "max" else out + r
        out = self.mout(out)
        return (inputs + [out] if self.dense_residual else [out]), lens
