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


class MultiLayerPerceptron(TypedModule):
    """Per-frame head of NeMo's frame VAD: (num_layers - 1) x [Linear, activation], then Linear to classes.

    Layers are attributes `layer0`, `layer1`, ... as in NeMo, so its state dicts load.
    """

    input_types = {"hidden_states": NeuralType(("B", "T", "D"), AcousticEncodedRepresentation())}
    output_types = {"logits": NeuralType(("B", "T", "D"), LogitsType())}

    def __init__(self, hidden_size: int, num_classes: int, num_layers: int = 2, activation: str = "relu",
                 log_softmax: bool = True, **ignored):
        super().__init__()
        acts = {"relu": nn.ReLU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
        if activation not in acts:
            raise ValueError(f"decoder.activation={activation!r}: use one of {sorted(acts)}")
        layers: list[nn.Module] = []
        for _ in range(num_layers - 1):
            layers += [nn.Linear(hidden_size, hidden_size), acts[activation]()]
        layers.append(nn.Linear(hidden_size, num_classes))
        for i, layer in enumerate(layers):
            setattr(self, f"layer{i}", layer)
        self.n_layers, self.log_softmax, self.num_classes = len(layers), log_softmax, num_classes

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        for i in range(self.n_layers):
            hidden_states = getattr(self, f"layer{i}")(hidden_states)
        # float32 under mixed precision, as the CTC head: the loss needs precise log-probabilities
        return torch.log_softmax(hidden_states.float(), dim=-1) if self.log_softmax else hidden_states
