"""Export of trained models for deployment: ONNX graphs that `harken.runtime` (or sherpa-onnx) runs
without torch, or TorchScript. `export(model, "model.onnx")`; `export(transducer, "folder")`; the model
classes stay free of export code."""

from __future__ import annotations

from pathlib import Path

FORMATS = ("onnx", "torchscript")


def export(model, path: str | Path, format: str = "onnx", quantize: str | None = None, dynamo: bool = False,
           ctc_head: bool = False) -> Path:
    """Write `model` to `path` in `format` and return the path written.

    ONNX: CTC models and classifiers give one file (`tokens.txt` beside it for CTC); transducers give a folder
    with encoder.onnx, decoder.onnx, joiner.onnx and tokens.txt (`ctc_head=True`: a hybrid's CTC head too, as
    model.onnx). `quantize="int8"` stores int8 weights; `dynamo=True` uses torch.export instead of tracing.
    TorchScript: one `torch.jit.load`-able file of features -> outputs (transducers: a folder with encoder.pt,
    decoder.pt, joiner.pt and tokens.txt)."""
    from harken.export.metadata import model_kind

    kind = model_kind(model)
    if ctc_head and kind != "transducer":
        raise ValueError("ctc_head=True is for hybrid transducers")
    if format == "torchscript":
        if quantize or dynamo or ctc_head:
            raise ValueError("quantize, dynamo and ctc_head are ONNX options; TorchScript is written in float32")
        from harken.export.torchscript_export import export_torchscript

        return export_torchscript(model, path)
    if format != "onnx":
        raise ValueError(f"format={format!r}: harken exports {', '.join(FORMATS)}")
    if kind == "transducer":
        from harken.export.transducer_export import export_transducer

        return export_transducer(model, path, quantize=quantize, dynamo=dynamo, ctc_head=ctc_head)
    from harken.export.onnx_export import export_onnx

    return export_onnx(model, path, quantize=quantize, dynamo=dynamo)


__all__ = ["FORMATS", "export"]
