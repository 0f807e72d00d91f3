"""TorchScript export of CTC models and classifiers: the ONNX graph's computation (encoder + head, features in)
as one file that `torch.jit.load` reads without harken.

    scripted = torch.jit.load("model.pt")
    logprobs, encoded_lengths = scripted(features, lengths)        # CTC: [B, T', V+1], [B]
    meta = {"harken_metadata.json": ""}; torch.jit.load("model.pt", _extra_files=meta)   # the ONNX metadata keys

Transducers give a folder with encoder.pt, decoder.pt and joiner.pt, the three graphs of the ONNX export with
the same inputs and outputs (the decoder takes and returns the LSTM state), and tokens.txt.

Each module is traced (`torch.jit.trace`) on a padded batch of two with the plain convolution route, as the
ONNX export is: shape arithmetic is recorded as operations, so batch size and length stay free (tested at
other shapes). The same metadata as the ONNX export (front end, labels, frame shift) travels inside the
file (for transducers, inside encoder.pt).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import torch

from harken.core.inference_mode import inference_mode
from harken.export.metadata import model_kind, model_metadata
from harken.export.onnx_export import EncoderGraph, example_inputs, plain_convolutions

METADATA_FILE = "harken_metadata.json"


def export_torchscript(model, path: str | Path) -> Path:
    """Write `path`, a traced TorchScript module of features -> outputs (see module doc), atomically; for a
    transducer, the folder `path` with encoder.pt, decoder.pt, joiner.pt and tokens.txt."""
    path = Path(path)
    kind = model_kind(model)
    meta = model_metadata(model)
    device = next(model.parameters()).device
    features = example_inputs(int(meta["feat_dim"]), device)
    if kind != "transducer":
        _save(_trace(model, EncoderGraph(model.encoder, model.decoder, kind), features), path, meta)
        return path
    from harken.export.metadata import component_metadata, write_tokens
    from harken.export.transducer_export import JointGraph, PredictionGraph, decoder_example, joiner_example

    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} is a file: a transducer is exported into a folder (encoder, decoder, joiner)")
    _save(_trace(model, EncoderGraph(model.encoder, None, "encoder"), features), path / "encoder.pt", meta)
    prediction = PredictionGraph(model.decoder)
    _save(_trace(model, prediction, decoder_example(model, prediction, device)), path / "decoder.pt",
          component_metadata("transducer_decoder"))
    joint = JointGraph(model.joint)
    _save(_trace(model, joint, joiner_example(joint, device)), path / "joiner.pt",
          component_metadata("transducer_joiner"))
    write_tokens(path / "tokens.txt", model.labels)
    return path


def _trace(model, graph: torch.nn.Module, args: tuple) -> torch.jit.ScriptModule:
    with inference_mode(model), torch.inference_mode(False), torch.no_grad(), plain_convolutions(model), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # int() of sizes in shape checks
        return torch.jit.trace(graph.eval(), args, check_trace=False)


def _save(module: torch.jit.ScriptModule, path: Path, meta: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.jit.save(module, tmp, _extra_files={METADATA_FILE: json.dumps(meta)})
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_metadata(path: str | Path) -> dict[str, str]:
    """The metadata stored in a harken TorchScript export."""
    extra = {METADATA_FILE: ""}
    torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return json.loads(extra[METADATA_FILE])
