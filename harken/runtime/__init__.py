"""Inference without torch: onnxruntime and numpy run models exported by `harken.export`, returning the
same result types as `harken.inference` (`Transcript`, `SpeechSpan`). Imports nothing from torch,
`harken.modules` or `harken.models`; `pip install harken[runtime]` is all it needs.

    rec = harken.runtime.load_recognizer("exported/")    # a CTC model.onnx or a transducer folder
    texts = [t.text for t in rec.transcribe(["a.wav"])]
"""

from __future__ import annotations

from harken.runtime.classifier import OnnxClassifier
from harken.runtime.features import FrontEnd, batch_features, features
from harken.runtime.loading import load_recognizer
from harken.runtime.recognizer import OnnxRecognizer
from harken.runtime.transducer import OnnxTransducerRecognizer

__all__ = ["FrontEnd", "OnnxClassifier", "OnnxRecognizer", "OnnxTransducerRecognizer", "batch_features", "features",
           "load_recognizer"]
