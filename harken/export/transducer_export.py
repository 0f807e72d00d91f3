"""ONNX export of transducers (RNNT, TDT, the transducer head of hybrids) as three graphs in one folder,
the layout of sherpa-onnx's NeMo transducer exports:

    encoder.onnx  audio_signal [B, F, T] float32, length [B] int64
                  -> outputs [B, C, T'], encoded_lengths [B] int64        (all the metadata is here)
    decoder.onnx  targets [B, U] int32, target_length [B] int32, states.1 / states.2 [layers, B, H] (LSTM h, c)
                  -> outputs [B, H, U], prednet_lengths [B] int32, states.1.out / states.2.out
    joiner.onnx   encoder_outputs [B, C, T], decoder_outputs [B, H, U]
                  -> logits [B, T, U, V + 1 + durations]                   (raw: no softmax)
    tokens.txt    the pieces, then `<blk>` (the blank, id V)

The decoder graph is the prediction network with its LSTM state passed in and out, so a search feeds it one
token at a time (the blank, with zero states, to start); the joiner takes the raw encoder frame and
prediction and does both projections itself, as NeMo's `RNNTJoint.export` does. The joiner's logits are
raw: a search takes the arg-max of the token part and, for TDT, of the duration part, and normalises what
it needs (NeMo's CPU joint log-softmaxes the whole vector; harken's runtime reproduces its scores).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from harken.export.metadata import component_metadata, model_kind, model_metadata, write_tokens
from harken.export.onnx_export import OPSET, EncoderGraph, finish, staging, trace, trace_encoder_graph

FILES = ("encoder.onnx", "decoder.onnx", "joiner.onnx", "tokens.txt")
DECODER_INPUTS = ["targets", "target_length", "states.1", "states.2"]
DECODER_OUTPUTS = ["outputs", "prednet_lengths", "states.1.out", "states.2.out"]
JOINER_INPUTS = ["encoder_outputs", "decoder_outputs"]
JOINER_OUTPUTS = ["logits"]


class PredictionGraph(nn.Module):
    """The prediction network as one step function: tokens and LSTM state in, outputs and new state out."""

    def __init__(self, decoder: nn.Module):
        super().__init__()
        self.decoder = decoder
        self.lstm = decoder.prediction["dec_rnn"].lstm
        if self.lstm.proj_size:
            raise ValueError("export of a prediction network with an LSTM projection is not supported")

    def forward(self, targets: torch.Tensor, target_length: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        y = self.decoder.embed(targets.long())  # the blank gives the zero start input
        g, (h, c) = self.lstm(y.transpose(0, 1), (h, c))
        return g.permute(1, 2, 0), target_length, h, c


class JointGraph(nn.Module):
    """joint(enc, pred) over every (frame, prediction) pair: [B, C, T] x [B, H, U] -> [B, T, U, V + 1 + D]."""

    def __init__(self, joint: nn.Module):
        super().__init__()
        self.joint = joint

    def forward(self, encoder_outputs: torch.Tensor, decoder_outputs: torch.Tensor) -> torch.Tensor:
        f = self.joint.project_encoder(encoder_outputs.transpose(1, 2))
        g = self.joint.project_prednet(decoder_outputs.transpose(1, 2))
        return self.joint.joint_logits(f.unsqueeze(2), g.unsqueeze(1))


def export_transducer(model, folder: str | Path, quantize: str | None = None, opset: int = OPSET,
                      dynamo: bool = False, ctc_head: bool = False) -> Path:
    """Write encoder.onnx, decoder.onnx, joiner.onnx and tokens.txt into `folder` (float32, or int8 weights
    with `quantize="int8"`); `ctc_head=True` also writes a hybrid's CTC head as `model.onnx`, a CTC export
    that shares tokens.txt. `dynamo=True` exports the encoder with torch.export. Returns `folder`."""
    from harken.export.onnx_export import export_onnx

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file: a transducer is exported into a folder (encoder, decoder, joiner)")
    if ctc_head:
        model_kind(model, "ctc")  # a model without a CTC head fails here, before anything is written
    meta = model_metadata(model)
    decoder, joint = model.decoder, model.joint
    device = next(model.parameters()).device
    with staging(folder) as tmp:
        encoder = EncoderGraph(model.encoder, None, "encoder")
        finish(trace_encoder_graph(model, encoder, tmp / "encoder.onnx", ["outputs", "encoded_lengths"],
                                   int(meta["feat_dim"]), opset, dynamo), meta, quantize)
        prediction = PredictionGraph(decoder)
        finish(_trace_decoder(model, prediction, tmp / "decoder.onnx", device, opset),
               component_metadata("transducer_decoder"), quantize)
        finish(_trace_joiner(model, JointGraph(joint), tmp / "joiner.onnx", device, opset),
               component_metadata("transducer_joiner"), quantize)
        write_tokens(tmp / "tokens.txt", model.labels)
    if ctc_head:
        export_onnx(model, folder / "model.onnx", quantize=quantize, opset=opset, dynamo=dynamo, head="ctc")
    return folder


def decoder_example(model, graph: PredictionGraph, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Two rows (see onnx_export.example_inputs): the start (blank, zero state) and token 0."""
    lstm = graph.lstm
    targets = torch.tensor([[model.blank_id], [0]], dtype=torch.int32, device=device)
    state = torch.zeros(lstm.num_layers, 2, lstm.hidden_size, device=device)
    return targets, torch.ones(2, dtype=torch.int32, device=device), state, state.clone()


def joiner_example(graph: JointGraph, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    enc = torch.randn(2, graph.joint.enc.in_features, 3, generator=gen).to(device)
    pred = torch.randn(2, graph.joint.pred.in_features, 2, generator=gen).to(device)
    return enc, pred


def _trace_decoder(model, graph: PredictionGraph, path: Path, device: torch.device, opset: int) -> Path:
    args = decoder_example(model, graph, device)
    axes = {"targets": {0: "batch", 1: "tokens"}, "target_length": {0: "batch"}, "outputs": {0: "batch", 2: "tokens"},
            "prednet_lengths": {0: "batch"}}
    axes.update({name: {1: "batch"} for name in ("states.1", "states.2", "states.1.out", "states.2.out")})
    trace(model, graph.eval(), args, path, DECODER_INPUTS, DECODER_OUTPUTS, opset, dynamic_axes=axes)
    return path


def _trace_joiner(model, graph: JointGraph, path: Path, device: torch.device, opset: int) -> Path:
    enc, pred = joiner_example(graph, device)
    axes = {"encoder_outputs": {0: "batch", 2: "frames"}, "decoder_outputs": {0: "batch", 2: "tokens"},
            "logits": {0: "batch", 1: "frames", 2: "tokens"}}
    trace(model, graph.eval(), (enc, pred), path, JOINER_INPUTS, JOINER_OUTPUTS, opset, dynamic_axes=axes)
    return path
