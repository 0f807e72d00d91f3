"""ONNX export of CTC models and classifiers: features in, log-probs (or logits) out.

The graph holds encoder + head; the front end stays outside (the runtime computes it in numpy), as in NeMo's
and sherpa-onnx's exports, so one graph serves any audio reader. Inputs `audio_signal` [B, F, T] float32 and
`length` [B] int64; outputs by kind:

    ctc               logprobs [B, T', V+1], encoded_lengths [B]
    classifier        logits [B, classes]
    frame_classifier  logits [B, T', classes], encoded_lengths [B]

Batch and time axes are dynamic. The TorchScript exporter (`dynamo=False`) is the default: it traces harken's
modules as they run, and tracing records shape arithmetic (`x.shape[1]`, `arange(T)`) as graph ops, so the
Conformer's masks and relative positions follow the input's length (tested at other lengths); it needs only
torch and exports a model in about a second. `dynamo=True` (torch.export) gives the same outputs but needs
`onnxscript` and takes ~10x longer; it is there for when torch removes the TorchScript exporter (deprecated
since 2.9).
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from harken.core.inference_mode import inference_mode
from harken.export.metadata import add_metadata, model_kind, model_metadata, write_tokens
from harken.modules.jasper_block import MaskedConv1d

OPSET = 17  # LayerNorm as one op; read by onnxruntime >= 1.14 and sherpa-onnx's bundled runtimes
INPUTS = ["audio_signal", "length"]
OUTPUTS = {"ctc": ["logprobs", "encoded_lengths"], "classifier": ["logits"],
           "frame_classifier": ["logits", "encoded_lengths"]}


class _Graph(nn.Module):
    """encoder + head of a model, with the signature the exported graph has."""

    def __init__(self, model, kind: str):
        super().__init__()
        self.encoder, self.decoder, self.kind = model.encoder, model.decoder, kind

    def forward(self, audio_signal: torch.Tensor, length: torch.Tensor):
        encoded, encoded_len = self.encoder(audio_signal, length)
        if self.kind == "classifier":
            return self.decoder(encoded)
        if self.kind == "frame_classifier":
            return self.decoder(encoded.transpose(1, 2)), encoded_len
        return self.decoder(encoded), encoded_len


@contextlib.contextmanager
def plain_convolutions(model: nn.Module) -> Iterator[None]:
    """MaskedConv1d picks a CPU-only route (conv2d in channels-last, or a matmul) by the device it runs on;
    traced, that choice would be baked into the graph. Route every one through its own Conv1d meanwhile."""
    convs = [m for m in model.modules() if isinstance(m, MaskedConv1d)]
    for m in convs:  # an instance attribute shadows the method (set past nn.Module, which would adopt a module)
        object.__setattr__(m, "_convolve", m.conv.__call__)
    try:
        yield
    finally:
        for m in convs:
            object.__delattr__(m, "_convolve")


def example_inputs(feat_dim: int, device: torch.device, frames: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Two rows of unequal length: a batch of one could let the tracer fold the batch axis into constants."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, feat_dim, frames, generator=gen).to(device)
    return x, torch.tensor([frames, frames * 3 // 4], device=device)


def export_onnx(model, path: str | Path, quantize: str | None = None, opset: int = OPSET,
                tokens: bool = True, dynamo: bool = False) -> Path:
    """Write `path` (float32, or int8 weights with `quantize="int8"`) with self-describing metadata, and for
    CTC models `tokens.txt` beside it. The model is left as it was (mode, device, modules). `dynamo=True`
    uses torch.export instead of tracing (needs `onnxscript`; slower, opset 18 at least): the way on once
    torch drops the TorchScript exporter, which it deprecates since 2.9."""
    path = Path(path)
    kind = model_kind(model)
    meta = model_metadata(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        fp32 = Path(tmp) / "model.onnx" if quantize else path
        _trace_to_onnx(model, kind, int(meta["feat_dim"]), fp32, max(opset, 18) if dynamo else opset, dynamo)
        add_metadata(fp32, meta)
        if quantize:
            from harken.export.quantize import quantize_onnx

            quantize_onnx(fp32, path, quantize)
            add_metadata(path, {**meta, "quantization": quantize})
    if tokens and kind == "ctc":
        write_tokens(path.parent / "tokens.txt", model.labels)
    return path


def _trace_to_onnx(model, kind: str, feat_dim: int, path: Path, opset: int, dynamo: bool = False) -> None:
    graph = _Graph(model, kind).eval()  # its submodules' modes are set (and restored) by inference_mode
    device = next(model.parameters()).device
    outputs = OUTPUTS[kind]
    axes = {"audio_signal": {0: "batch", 2: "time"}, "length": {0: "batch"}}
    for name in outputs:  # per-frame outputs have a time axis; lengths and utterance logits do not
        per_frame = name != "encoded_lengths" and kind != "classifier"
        axes[name] = {0: "batch", 1: "frames"} if per_frame else {0: "batch"}
    with inference_mode(model), plain_convolutions(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # the TorchScript exporter's notice
        warnings.filterwarnings("ignore", message="Constant folding")  # strided slices are left unfolded
        shapes: dict = {"dynamic_axes": axes}
        if dynamo:  # torch.export names its dynamic dimensions itself; the output axes follow from the inputs
            batch, time = torch.export.Dim("batch"), torch.export.Dim("time", min=16)
            shapes = {"dynamic_shapes": {"audio_signal": {0: batch, 2: time}, "length": {0: batch}}}
        torch.onnx.export(graph, example_inputs(feat_dim, device), str(path), dynamo=dynamo, input_names=INPUTS,
                          output_names=outputs, opset_version=opset, do_constant_folding=True, **shapes)
