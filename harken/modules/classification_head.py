"""Utterance classification head (MatchboxNet, MarbleNet): pool over time, then one linear layer.

As NeMo's `ConvASRDecoderClassification`, the pooling covers every frame of the tensor, padding
included; harken's classifier avoids that by batching only equal-length inputs.
"""

from __future__ import annotations

import torch
from torch import nn

from harken.core.neural_types import AcousticEncodedRepresentation, LogitsType, NeuralType
from harken.core.typed_module import TypedModule
from harken.modules.conv_asr import init_weights


class ConvASRDecoderClassification(TypedModule):
    input_types = {"encoder_output": NeuralType(("B", "D", "T"), AcousticEncodedRepresentation())}
    output_types = {"logits": NeuralType(("B", "D"), LogitsType())}

    def __init__(self, feat_in: int, num_classes: int, init_mode: str = "xavier_uniform", return_logits: bool = True,
                 pooling_type: str = "avg", **ignored):
        super().__init__()
        pools = {"avg": nn.AdaptiveAvgPool1d, "max": nn.AdaptiveMaxPool1d}
        if pooling_type not in pools:
            raise ValueError(f"decoder.pooling_type={pooling_type!r}: use avg or max")
        self.return_logits = return_logits
        self.num_classes = num_classes
        self.pooling = pools[pooling_type](1)
        self.decoder_layers = nn.Sequential(nn.Linear(feat_in, num_classes, bias=True))
        self.apply(lambda m: init_weights(m, init_mode))

    def forward(self, encoder_output: torch.Tensor) -> torch.Tensor:
        logits = self.decoder_layers(self.pooling(encoder_output).flatten(1))
        return logits if self.return_logits else torch.softmax(logits, dim=-1)
