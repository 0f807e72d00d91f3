"""Export of trained models for deployment: ONNX graphs that `harken.runtime` (or sherpa-onnx) runs
without torch. `export(model, "model.onnx")`; the model classes stay free of export code."""

from __future__ import annotations

from pathlib import Path

FORMATS = ("onnx",)


def export(model, path: str | Path, format: str = "onnx", quantize: str | None = None, dynamo: bool = False) -> Path:
    """Write `model` to `path` in `format` ("onnx"); `quantize="int8"` stores int8 weights. For CTC models a
    sherpa-onnx `tokens.txt` is written beside the file. `dynamo=True`: torch.export instead of tracing.
    Returns the path written."""
    if format != "onnx":
        raise ValueError(f"format={format!r}: harken exports {', '.join(FORMATS)} (TorchScript is not written yet)")
    from harken.export.onnx_export import export_onnx

    return export_onnx(model, path, quantize=quantize, dynamo=dynamo)


__all__ = ["FORMATS", "export"]
