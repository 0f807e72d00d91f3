"""Conformer / FastConformer encoder (NeMo's `ConformerEncoder`, offline).

    features -> ConvSubsampling -> x * sqrt(d_model) -> N x ConformerLayer -> [B, d_model, T']
    ConformerLayer: x + FF/2 -> + RelPosMHSA -> + Conv module -> + FF/2 -> LayerNorm   (macaron)

Self-attention uses Transformer-XL relative positions (per-layer u/v biases when `untie_biases`).
`self_attention_model`: `rel_pos` attends to every frame (with `att_context_size` [L, R] other than [-1, -1],
to a band of them, masked out of the full T x T scores as NeMo's `regular` style does); `rel_pos_local_attn`
attends to L frames left and R right with memory linear in T (`harken.modules.local_attention`), for long
audio. `change_attention_model` switches between them on a loaded model: the weights are the same.
`use_bias: false` (Parakeet 0.6B/1.1B) drops the biases of every linear and conv layer inside the Conformer
layers (feed-forward, attention projections, conv module), as NeMo's does; subsampling keeps its own.
State-dict names are NeMo's, so its checkpoints load.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from harken.core.neural_types import AcousticEncodedRepresentation, LengthsType, NeuralType, SpectrogramType
from harken.core.typed_module import TypedModule
from harken.modules.local_attention import local_attention
from harken.modules.subsampling import ConvSubsampling

ATTENTION_MODELS = ("rel_pos", "rel_pos_local_attn")


def relative_positions(length: int, d_model: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """[1, 2T-1, d_model] sinusoids for relative positions T-1 ... -(T-1)."""
    return _sinusoids(length - 1, -(length - 1), d_model, device, dtype)


def _sinusoids(first: int, last: int, d_model: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """[1, first - last + 1, d_model] sinusoids for relative positions first, first - 1, ..., last (positive:
    the key is to the left of the query)."""
    positions = torch.arange(first, last - 1, -1, dtype=torch.float32, device=device).unsqueeze(1)
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32, device=device) * -(math.log(10000.0) / d_model))
    pe = torch.zeros(positions.shape[0], d_model, device=device)
    pe[:, 0::2] = torch.sin(positions * div)
    pe[:, 1::2] = torch.cos(positions * div)
    return pe.unsqueeze(0).to(dtype)


class RelPositionMultiHeadAttention(nn.Module):
    def __init__(self, n_heads: int, d_model: int, dropout: float, shared_bias: tuple[nn.Parameter, ...] | None,
                 use_bias: bool = True):
        super().__init__()
        self.h, self.d_k = n_heads, d_model // n_heads
        self.linear_q, self.linear_k = nn.Linear(d_model, d_model, use_bias), nn.Linear(d_model, d_model, use_bias)
        self.linear_v = nn.Linear(d_model, d_model, use_bias)
        self.linear_out = nn.Linear(d_model, d_model, use_bias)
        self.linear_pos = nn.Linear(d_model, d_model, bias=False)
        if shared_bias is None:
            self.pos_bias_u = nn.Parameter(torch.zeros(self.h, self.d_k))
            self.pos_bias_v = nn.Parameter(torch.zeros(self.h, self.d_k))
        else:
            self.pos_bias_u, self.pos_bias_v = shared_bias
        self.dropout = nn.Dropout(dropout)
        self.window: tuple[int, int] | None = None  # (left, right): local attention; None: full

    def forward(self, x: torch.Tensor, pos_emb: torch.Tensor, mask: torch.Tensor | None,
                valid: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, T, d_model]. Full attention: pos_emb for offsets T-1 ... -(T-1), mask [B, T, T] (True: hidden;
        None: nothing is).
        Local: pos_emb for offsets left ... -right, valid [B, T] (False: padding)."""
        b, t, _ = x.shape
        q = self.linear_q(x).view(b, t, self.h, self.d_k)
        k = self.linear_k(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        p = self.linear_pos(pos_emb).view(pos_emb.shape[0], -1, self.h, self.d_k).transpose(1, 2)
        if self.window is not None:
            left, right = self.window
            out = local_attention((q + self.pos_bias_u).transpose(1, 2), (q + self.pos_bias_v).transpose(1, 2), k, v,
                                  p[0], valid, left, right, self.dropout)
            return self.linear_out(out.transpose(1, 2).reshape(b, t, self.h * self.d_k))
        ac = torch.matmul((q + self.pos_bias_u).transpose(1, 2), k.transpose(-2, -1))
        bd = _rel_shift(torch.matmul((q + self.pos_bias_v).transpose(1, 2), p.transpose(-2, -1)))
        scores = ac.add_(bd).div_(math.sqrt(self.d_k))  # in place: T x T scores are the big tensors here
        if mask is None:  # nothing hidden (no padding, no band)
            attn = torch.softmax(scores, dim=-1)
        else:
            mask = mask.unsqueeze(1)
            attn = torch.softmax(scores.masked_fill_(mask, torch.finfo(scores.dtype).min), dim=-1).masked_fill(mask, 0)
        out = torch.matmul(self.dropout(attn), v).transpose(1, 2).reshape(b, t, self.h * self.d_k)
        return self.linear_out(out)


def _rel_shift(x: torch.Tensor) -> torch.Tensor:
    """[b, h, T, 2T-1] scores by relative offset (T-1 ... -(T-1)) -> [b, h, T, T] by key position: (i, j) is
    x[..., i, T-1-i+j], the entries Transformer-XL's pad-and-reshape trick picks, as a strided view (no copy)."""
    b, h, t, n = x.shape
    if _tracing():  # graph export: as_strided with a length-dependent offset does not export; the trick does
        x = nn.functional.pad(x, (1, 0)).view(b, h, n + 1, t)
        return x[:, :, 1:].reshape(b, h, t, n)[..., :t]
    x = x.contiguous()
    s = x.stride()
    return x.as_strided((b, h, t, t), (s[0], s[1], s[2] - 1, s[3]), x.storage_offset() + t - 1)


def _tracing() -> bool:
    """True while a graph is traced (ONNX export): shortcuts chosen from the data must not be baked in."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


class ConformerFeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float, use_bias: bool = True):
        super().__init__()
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff, use_bias), nn.Linear(d_ff, d_model, use_bias)
        self.activation, self.dropout = nn.SiLU(), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class ConformerConvolution(nn.Module):
    def __init__(self, d_model: int, kernel_size: int, norm_type: str = "batch_norm", use_bias: bool = True):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"conv_kernel_size={kernel_size}: must be odd")
        self.pointwise_conv1 = nn.Conv1d(d_model, 2 * d_model, 1, bias=use_bias)
        self.depthwise_conv = nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2, groups=d_model,
                                        bias=use_bias)
        if norm_type == "batch_norm":
            self.batch_norm: nn.Module = nn.BatchNorm1d(d_model)
        elif norm_type == "layer_norm":
            self.batch_norm = nn.LayerNorm(d_model)
        else:
            raise ValueError(f"conv_norm_type={norm_type!r}: harken supports batch_norm and layer_norm")
        self.activation = nn.SiLU()
        self.pointwise_conv2 = nn.Conv1d(d_model, d_model, 1, bias=use_bias)

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        x = nn.functional.glu(self.pointwise_conv1(x.transpose(1, 2)), dim=1)
        x = self.depthwise_conv(x.masked_fill(pad_mask.unsqueeze(1), 0.0))
        if isinstance(self.batch_norm, nn.LayerNorm):
            x = self.batch_norm(x.transpose(1, 2)).transpose(1, 2)
        else:
            x = self.batch_norm(x)
        return self.pointwise_conv2(self.activation(x)).transpose(1, 2)


class ConformerLayer(nn.Module):
    def __init__(self, d_model: int, d_ff: int, n_heads: int, conv_kernel_size: int, conv_norm_type: str,
                 dropout: float, dropout_att: float, shared_bias: tuple[nn.Parameter, ...] | None,
                 use_bias: bool = True):
        super().__init__()
        self.norm_feed_forward1 = nn.LayerNorm(d_model)
        self.feed_forward1 = ConformerFeedForward(d_model, d_ff, dropout, use_bias)
        self.norm_conv = nn.LayerNorm(d_model)
        self.conv = ConformerConvolution(d_model, conv_kernel_size, conv_norm_type, use_bias)
        self.norm_self_att = nn.LayerNorm(d_model)
        self.self_attn = RelPositionMultiHeadAttention(n_heads, d_model, dropout_att, shared_bias, use_bias)
        self.norm_feed_forward2 = nn.LayerNorm(d_model)
        self.feed_forward2 = ConformerFeedForward(d_model, d_ff, dropout, use_bias)
        self.dropout = nn.Dropout(dropout)
        self.norm_out = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, pos_emb: torch.Tensor, att_mask: torch.Tensor | None, pad_mask: torch.Tensor):
        x = x + 0.5 * self.dropout(self.feed_forward1(self.norm_feed_forward1(x)))
        x = x + self.dropout(self.self_attn(self.norm_self_att(x), pos_emb, att_mask, ~pad_mask))
        x = x + self.dropout(self.conv(self.norm_conv(x), pad_mask))
        x = x + 0.5 * self.dropout(self.feed_forward2(self.norm_feed_forward2(x)))
        return self.norm_out(x)


class ConformerEncoder(TypedModule):
    input_types = {
        "audio_signal": NeuralType(("B", "D", "T"), SpectrogramType()),
        "length": NeuralType(("B",), LengthsType()),
    }
    output_types = {
        "outputs": NeuralType(("B", "D", "T"), AcousticEncodedRepresentation()),
        "encoded_lengths": NeuralType(("B",), LengthsType()),
    }

    def __init__(self, feat_in: int, n_layers: int, d_model: int, feat_out: int = -1, subsampling: str = "striding",
                 subsampling_factor: int = 4, subsampling_conv_channels: int = -1, ff_expansion_factor: int = 4,
                 self_attention_model: str = "rel_pos", n_heads: int = 4, att_context_size: list | None = None,
                 att_context_style: str = "regular", xscaling: bool = True, untie_biases: bool = True,
                 conv_kernel_size: int = 31, use_bias: bool = True,
                 conv_norm_type: str = "batch_norm", dropout: float = 0.1, dropout_pre_encoder: float = 0.1,
                 dropout_emb: float = 0.1, dropout_att: float = 0.0, **ignored):
        super().__init__()
        if feat_out not in (-1, None):
            raise ValueError("ConformerEncoder: feat_out (an output projection) is not supported")
        channels = d_model if subsampling_conv_channels in (-1, None) else subsampling_conv_channels
        self.d_model, self.subsampling_factor = d_model, subsampling_factor
        self.pre_encode = ConvSubsampling(subsampling, subsampling_factor, feat_in, d_model, channels)
        self.xscale = math.sqrt(d_model) if xscaling else None
        self.pre_dropout = nn.Dropout(dropout_pre_encoder)
        self._dropout, self.att_context_style = dropout, att_context_style
        shared = None
        if not untie_biases:
            d_k = d_model // n_heads
            self.pos_bias_u = nn.Parameter(torch.zeros(n_heads, d_k))
            self.pos_bias_v = nn.Parameter(torch.zeros(n_heads, d_k))
            shared = (self.pos_bias_u, self.pos_bias_v)
        self.layers = nn.ModuleList(
            ConformerLayer(d_model, d_model * ff_expansion_factor, n_heads, conv_kernel_size, conv_norm_type,
                           dropout, dropout_att, shared, bool(use_bias)) for _ in range(n_layers)
        )
        self.self_attention_model, self.att_context_size = "rel_pos", [-1, -1]
        self._set_attention(self_attention_model, att_context_size)
        if self_attention_model == "rel_pos_local_attn":  # NeMo's positional dropout then takes `dropout`
            self.pre_dropout.p = dropout

    def change_attention_model(self, self_attention_model: str | None = None, att_context_size: list | None = None
                               ) -> None:
        """NeMo's method: `rel_pos_local_attn` with [left, right] bounds memory for long audio; `rel_pos` goes
        back to full attention (a kept finite `att_context_size` bands it, as in NeMo). None keeps the current
        value. The weights stay as they are; update the model's config with the model's method of this name."""
        self._set_attention(self_attention_model or self.self_attention_model,
                            self.att_context_size if att_context_size is None else att_context_size)
        self.pre_dropout.p = self._dropout  # NeMo's new positional encoding takes `dropout` (training only)

    def _set_attention(self, model: str, context: list | None) -> None:
        if model not in ATTENTION_MODELS:
            raise ValueError(f"self_attention_model={model!r}: harken supports {', '.join(ATTENTION_MODELS)}")
        context = [-1, -1] if context is None else list(context)
        if len(context) != 2 or not all(isinstance(c, int) for c in context):
            raise ValueError(f"att_context_size={context!r}: give [left, right] frames (several look-aheads, as "
                             "cache-aware streaming models have, are not supported)")
        if model == "rel_pos_local_attn" and (min(context) < 0 or max(context) <= 0):
            raise ValueError(f"rel_pos_local_attn needs att_context_size [left, right] with both >= 0 and one > 0, "
                             f"got {context}")
        if model == "rel_pos" and context != [-1, -1] and self.att_context_style != "regular":
            raise ValueError(f"att_context_style={self.att_context_style!r} (cache-aware streaming) is not supported")
        window = (context[0], context[1]) if model == "rel_pos_local_attn" else None
        for layer in self.layers:
            layer.self_attn.window = window
        self.self_attention_model, self.att_context_size = model, context

    def subsampling(self) -> int:
        return self.subsampling_factor

    def forward(self, audio_signal: torch.Tensor, length: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, length = self.pre_encode(audio_signal.transpose(1, 2), length)
        if self.xscale is not None:
            x = x * self.xscale
        x = self.pre_dropout(x)
        t = x.shape[1]
        valid = torch.arange(t, device=x.device)[None, :] < length[:, None]
        left, right = self.att_context_size
        if self.self_attention_model == "rel_pos_local_attn":
            pos_emb = _sinusoids(left, -right, self.d_model, x.device, x.dtype)
            att_mask = None  # no T x T tensor: the attention masks each window itself
        else:
            pos_emb = relative_positions(t, self.d_model, x.device, x.dtype)
            att_mask = ~(valid[:, None, :] & valid[:, :, None])  # True where a query or key is padding
            if [left, right] != [-1, -1]:  # NeMo's `regular` band: a negative side is unlimited
                offset = torch.arange(t, device=x.device)[None, :] - torch.arange(t, device=x.device)[:, None]
                outside = ((offset < -left) & (left >= 0)) | ((offset > right) & (right >= 0))
                att_mask = att_mask | outside[None]
            if not _tracing() and not bool(att_mask.any()):
                att_mask = None  # every row full length, no band: the masking would change nothing
        pad_mask = ~valid
        for layer in self.layers:
            x = layer(x, pos_emb, att_mask, pad_mask)
        return x.transpose(1, 2), length
