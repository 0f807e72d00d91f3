"""Opening whatever `harken export` wrote for speech recognition, by its layout: a transducer folder
(encoder.onnx, decoder.onnx, joiner.onnx) or a CTC model (`model.onnx`, or a folder holding one)."""

from __future__ import annotations

from pathlib import Path


def load_recognizer(path: str | Path, **options):
    """An OnnxTransducerRecognizer or OnnxRecognizer for `path`; `options` go to its constructor (tokens,
    batch_size, threads, providers, segment_gap). A folder with both (a hybrid exported with its CTC head)
    opens the transducer; give `folder/model.onnx` for the CTC head."""
    from harken.runtime.recognizer import OnnxRecognizer
    from harken.runtime.transducer import OnnxTransducerRecognizer

    path = Path(path)
    if path.is_dir():
        if (path / "encoder.onnx").is_file():
            return OnnxTransducerRecognizer(path, **options)
        if not (path / "model.onnx").is_file():
            raise FileNotFoundError(f"{path}: no encoder.onnx or model.onnx: not a folder that harken export wrote")
        path = path / "model.onnx"
    if path.name == "encoder.onnx":
        return OnnxTransducerRecognizer(path.parent, **options)
    return OnnxRecognizer(path, **options)
