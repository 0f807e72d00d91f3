"""harken: neural speech recognition that reads and writes NeMo's formats.

    import harken
    model = harken.load("model.nemo")
    texts = model.transcribe(["a.wav", "b.flac"], batch_size=8)
    for t in harken.Transcriber(model)(["long.wav"]):   # typed results: words, segments, confidence
        print(t.text, [(w.word, w.start, w.end) for w in t.words])
    model.save("out.nemo")

Heavy imports (torch) happen on first use, so `import harken` is instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["ASRModel", "CTCModel", "TransducerModel", "Transcriber", "from_pretrained", "load", "__version__"]

if TYPE_CHECKING:
    from harken.inference.pipeline import Transcriber
    from harken.models.base import SpeechModel
    from harken.models.ctc_model import ASRModel, CTCModel
    from harken.models.transducer_model import TransducerModel

_LAZY = {"ASRModel": "harken.models.ctc_model", "CTCModel": "harken.models.ctc_model",
         "TransducerModel": "harken.models.transducer_model",
         "Transcriber": "harken.inference.pipeline"}


def load(path: str, map_location: str = "cpu") -> SpeechModel:
    """Load a `.nemo` archive (harken's or NeMo's) in eval mode: a CTC model, or a classifier for
    NeMo's speech-command and VAD archives."""
    from harken.models.loading import load_model

    return load_model(path, map_location=map_location)


def from_pretrained(name: str, map_location: str = "cpu", progress: bool = True) -> SpeechModel:
    """Load a catalog model by name (downloaded once into the cache), a path, or a URL."""
    from harken.pretrained.catalog import resolve

    return load(str(resolve(name, progress=progress)), map_location=map_location)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'harken' has no attribute {name!r}")
