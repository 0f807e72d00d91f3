"""Inference without torch: onnxruntime and numpy run models exported by `harken.export`, returning the
same result types as `harken.inference` (`Transcript`, `SpeechSpan`). Imports nothing from torch,
`harken.modules` or `harken.models`; `pip install harken[runtime]` is all it needs."""

from __future__ import annotations

from harken.runtime.classifier import OnnxClassifier
from harken.runtime.features import FrontEnd, batch_features, features
from harken.runtime.recognizer import OnnxRecognizer

__all__ = ["FrontEnd", "OnnxClassifier", "OnnxRecognizer", "batch_features", "features"]
