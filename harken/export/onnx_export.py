"""ONNX export of CTC models and classifiers: features in, log-probs (or logits) out.

The graph holds encoder + head; the front end stays outside (the runtime computes it in numpy), as in NeMo's
and sherpa-onnx's exports, so one graph serves any audio reader. Inputs `audio_signal` [B, F, T] float32 and
`length` [B] int64; outputs by kind:

    ctc               logprobs [B, T', V+1], encoded_lengths [B]
    classifier        logits [B, classes]
    frame_classifier  logits [B, T', classes], encoded_lengths [B]
    encoder           outputs [B, C, T'], encoded_lengths [B]   (a transducer's first graph)

Batch and time axes are dynamic. The TorchScript exporter (`dynamo=False`) is the default: it traces harken's
modules as they run, and tracing records shape arithmetic (`x.shape[1]`, `arange(T)`) as graph ops, so the
Conformer's masks and relative positions follow the input's length (tested at other lengths); it needs only
torch and exports a model in about a second. `dynamo=True` (torch.export) gives the same outputs but needs
`onnxscript` and takes ~10x longer; it is there for when torch removes the TorchScript exporter (deprecated
since 2.9). Files are written in a temporary folder beside the target and moved into place when complete.
"""

from __future__ import annotations

import contextlib
import os
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
           "frame_classifier": ["logits", "encoded_lengths"], "encoder": ["outputs", "encoded_lengths"]}


class EncoderGraph(nn.Module):
    """encoder + head of a model (no head for "encoder"), with the signature the exported graph has."""

    def __init__(self, encoder: nn.Module, head: nn.Module | None, kind: str):
        super().__init__()
        self.encoder, self.head, self.kind = encoder, head, kind

    def forward(self, audio_signal: torch.Tensor, length: torch.Tensor):
        encoded, encoded_len = self.encoder(audio_signal, length)
        if self.kind == "encoder":
            return encoded, encoded_len
        if self.kind == "classifier":
            return self.head(encoded)
        if self.kind == "frame_classifier":
            return self.head(encoded.transpose(1, 2)), encoded_len
        return self.head(encoded), encoded_len


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
                tokens: bool = True, dynamo: bool = False, head: str | None = None) -> Path:
    """Write `path` (float32, or int8 weights with `quantize="int8"`) with self-describing metadata, and for
    CTC models `tokens.txt` beside it. The model is left as it was (mode, device, modules). `dynamo=True`
    uses torch.export instead of tracing (needs `onnxscript`; slower, opset 18 at least): the way on once
    torch drops the TorchScript exporter, which it deprecates since 2.9. `head="ctc"` exports a hybrid
    transducer's CTC head as a CTC model."""
    path = Path(path)
    kind = model_kind(model, head)
    meta = model_metadata(model, head)
    encoder = model.encoder
    module = model.ctc_decoder if head == "ctc" else model.decoder
    graph = EncoderGraph(encoder, module, kind)
    with staging(path.parent) as tmp:
        written = trace_encoder_graph(model, graph, tmp / path.name, OUTPUTS[kind], int(meta["feat_dim"]),
                                      opset, dynamo, per_frame_outputs=kind != "classifier")
        finish(written, meta, quantize)
        if tokens and kind == "ctc":
            write_tokens(tmp / "tokens.txt", model.labels)
    return path


@contextlib.contextmanager
def staging(folder: Path) -> Iterator[Path]:
    """A temporary folder in `folder`: files written there move into `folder` (replacing same-named files)
    only when the block ends without an error, so a failed export leaves no half-written graph."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".harken-export-") as tmp:
        yield Path(tmp)
        for f in sorted(Path(tmp).iterdir()):
            os.replace(f, folder / f.name)


def finish(path: Path, meta: dict[str, str], quantize: str | None) -> None:
    """Give `path` its metadata; with `quantize`, replace it by its int8 version (metadata carried over)."""
    add_metadata(path, meta)
    if quantize:
        from harken.export.quantize import quantize_onnx

        fp32 = path.with_name(path.name + ".fp32")
        os.replace(path, fp32)
        quantize_onnx(fp32, path, quantize)
        fp32.unlink()
        add_metadata(path, {**meta, "quantization": quantize})


def trace_encoder_graph(model, graph: nn.Module, path: Path, outputs: list[str], feat_dim: int, opset: int = OPSET,
                        dynamo: bool = False, per_frame_outputs: bool = True) -> Path:
    """Export `graph` (features, lengths -> `outputs`) of `model` to `path` with dynamic batch and time axes."""
    axes = {"audio_signal": {0: "batch", 2: "time"}, "length": {0: "batch"}}
    for name in outputs:  # per-frame outputs have a time axis (the encoder's output has it last)
        if name == "encoded_lengths" or not per_frame_outputs:
            axes[name] = {0: "batch"}
        else:
            axes[name] = {0: "batch", 2: "frames"} if name == "outputs" else {0: "batch", 1: "frames"}
    device = next(model.parameters()).device
    shapes: dict = {"dynamic_axes": axes}
    if dynamo:  # torch.export names its dynamic dimensions itself; the output axes follow from the inputs
        batch, time = torch.export.Dim("batch"), torch.export.Dim("time", min=16)
        shapes = {"dynamic_shapes": {"audio_signal": {0: batch, 2: time}, "length": {0: batch}}}
        opset = max(opset, 18)
    trace(model, graph.eval(), example_inputs(feat_dim, device), path, INPUTS, outputs, opset, dynamo, **shapes)
    return path


def trace(model: nn.Module, graph: nn.Module, args: tuple, path: Path, input_names: list[str],
          output_names: list[str], opset: int = OPSET, dynamo: bool = False, **shapes) -> None:
    """torch.onnx.export of `graph` (built from `model`'s modules) in eval mode, with plain convolutions;
    every module's mode is restored afterwards."""
    with inference_mode(model), plain_convolutions(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # the TorchScript exporter's notice
        warnings.filterwarnings("ignore", message="Constant folding")  # strided slices are left unfolded
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size")  # LSTM: our h0/c0
        # are inputs, which is what that warning asks for
        torch.onnx.export(graph, args, str(path), dynamo=dynamo, input_names=input_names,
                          output_names=output_names, opset_version=opset, do_constant_folding=True, **shapes)
