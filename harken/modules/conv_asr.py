"""Jasper/QuartzNet encoder driven by NeMo's block list, and the CTC decoder head.

A block list entry (one dict per block, as in NeMo's `encoder.jasper` config):
    {filters: 256, repeat: 5, kernel: [33], stride: [1], dilation: [1], dropout: 0.0,
     residual: true, separable: true, residual_dense: false, se: false, se_context_size: -1, ...}
QuartzNet is this with `separable: true`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from harken.core.neural_types import (
    AcousticEncodedRepresentation,
    LengthsType,
    LogprobsType,
    NeuralType,
    SpectrogramType,
)
from harken.core.typed_module import TypedModule
from harken.modules.jasper_block import JasperBlock, MaskedConv1d, make_activation, scaled_kernel

BLOCK_KEYS = {
    "filters", "repeat", "kernel", "stride", "dilation", "dropout", "residual", "residual_dense",
    "separable", "groups", "residual_mode", "se", "se_reduction_ratio", "se_context_size",
    "se_interpolation_mode", "kernel_size_factor", "stride_last", "heads", "future_context", "quantize",
}


def _first(v: int | Sequence[int]) -> int:
    return int(v[0]) if isinstance(v, Sequence) else int(v)


def init_weights(m: nn.Module, mode: str = "xavier_uniform") -> None:
    if isinstance(m, (nn.Conv1d, nn.Linear)):
        init = {
            "xavier_uniform": nn.init.xavier_uniform_, "xavier_normal": nn.init.xavier_normal_,
            "kaiming_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
            "kaiming_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
        }
        if mode not in init:
            raise ValueError(f"init_mode={mode!r}: use one of {sorted(init)}")
        init[mode](m.weight)
    elif isinstance(m, nn.BatchNorm1d):
        m.reset_running_stats()
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


class ConvASREncoder(TypedModule):
    """Stack of JasperBlocks; features [B, D, T] -> encoding [B, C, T/stride]."""

    input_types = {
        "audio_signal": NeuralType(("B", "D", "T"), SpectrogramType()),
        "length": NeuralType(("B",), LengthsType()),
    }
    output_types = {
        "outputs": NeuralType(("B", "D", "T"), AcousticEncodedRepresentation()),
        "encoded_lengths": NeuralType(("B",), LengthsType()),
    }

    def __init__(
        self,
        jasper: Sequence[Mapping],
        activation: str = "relu",
        feat_in: int = 64,
        normalization_mode: str = "batch",
        residual_mode: str = "add",
        conv_mask: bool = True,
        frame_splicing: int = 1,
        init_mode: str = "xavier_uniform",
        **ignored,
    ):
        super().__init__()
        act = make_activation(activation)
        feat_in = feat_in * frame_splicing
        self.feat_in = feat_in
        dense_panes: list[int] = []
        blocks = []
        for i, cfg in enumerate(jasper):
            unknown = set(cfg) - BLOCK_KEYS
            if unknown:
                raise ValueError(f"encoder.jasper[{i}]: unknown keys {sorted(unknown)}")
            if cfg.get("heads", -1) != -1 or cfg.get("future_context", -1) != -1:
                raise ValueError(f"encoder.jasper[{i}]: 'heads' and 'future_context' are not supported")
            panes: list[int] = []
            if cfg.get("residual_dense", False):
                dense_panes.append(feat_in)
                panes = list(dense_panes)
            factor = float(cfg.get("kernel_size_factor", 1.0))
            blocks.append(JasperBlock(
                feat_in, int(cfg["filters"]), repeat=int(cfg["repeat"]),
                kernel=scaled_kernel(_first(cfg["kernel"]), factor),
                stride=_first(cfg.get("stride", 1)), dilation=_first(cfg.get("dilation", 1)),
                dropout=float(cfg.get("dropout", 0.0)), activation=act, residual=bool(cfg.get("residual", False)),
                groups=int(cfg.get("groups", 1)), separable=bool(cfg.get("separable", False)),
                residual_mode=cfg.get("residual_mode", residual_mode), residual_panes=panes,
                conv_mask=conv_mask, se=bool(cfg.get("se", False)),
                se_reduction_ratio=int(cfg.get("se_reduction_ratio", 8)),
                se_context_window=int(cfg.get("se_context_size", -1)),
                stride_last=bool(cfg.get("stride_last", False)), normalization=normalization_mode,
            ))
            feat_in = int(cfg["filters"])
        self.feat_out = feat_in
        self.encoder = nn.ModuleList(blocks)  # NeMo uses Sequential; the keys (encoder.N.*) are the same
        self.apply(lambda m: init_weights(m, init_mode))

    def forward(self, audio_signal: torch.Tensor, length: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xs, lens = [audio_signal], length
        for block in self.encoder:
            xs, lens = block(xs, lens)
        return xs[-1], lens

    def subsampling(self) -> int:
        """Total time stride of the encoder."""
        total = 1
        for m in self.modules():
            if isinstance(m, MaskedConv1d) and m.conv.kernel_size[0] > 1:
                total *= m.conv.stride[0]
        return total


class ConvASRDecoder(TypedModule):
    """CTC head: 1x1 conv to vocabulary + blank (blank is the last index), log-softmax."""

    input_types = {"encoder_output": NeuralType(("B", "D", "T"), AcousticEncodedRepresentation())}
    output_types = {"logprobs": NeuralType(("B", "T", "D"), LogprobsType())}

    def __init__(self, feat_in: int, num_classes: int = -1, vocabulary: Sequence[str] | None = None,
                 init_mode: str = "xavier_uniform", add_blank: bool = True, **ignored):
        super().__init__()
        if num_classes <= 0:
            if vocabulary is None:
                raise ValueError("decoder: give num_classes or vocabulary")
            num_classes = len(vocabulary)
        if vocabulary is not None and len(vocabulary) != num_classes:
            raise ValueError(f"decoder: num_classes={num_classes} but vocabulary has {len(vocabulary)} entries")
        self.vocabulary = list(vocabulary) if vocabulary is not None else None
        self.num_classes_with_blank = num_classes + int(add_blank)
        self.decoder_layers = nn.Sequential(nn.Conv1d(feat_in, self.num_classes_with_blank, 1, bias=True))
        self.apply(lambda m: init_weights(m, init_mode))

    @property
    def blank_id(self) -> int:
        return self.num_classes_with_blank - 1

    def forward(self, encoder_output: torch.Tensor) -> torch.Tensor:
        logits = self.decoder_layers(encoder_output).transpose(1, 2)
        return torch.log_softmax(logits.float(), dim=-1)  # float32 under mixed precision too: CTC needs it
