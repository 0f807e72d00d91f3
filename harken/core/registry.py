"""`_target_` resolution through an allow-list.

A config's `_target_` names a class. NeMo configs name NeMo classes; harken's name harken classes.
Both resolve here, and only here: nothing is ever imported by a name read from a file, so a
checkpoint cannot make harken run code it did not ship.
"""

from __future__ import annotations

import importlib
from typing import Any

# harken class path -> NeMo class paths that mean the same thing
_FAMILIES: dict[str, tuple[str, ...]] = {
    "harken.audio.mel.MelSpectrogramPreprocessor": (
        "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
        "nemo.collections.asr.modules.audio_preprocessing.AudioToMelSpectrogramPreprocessor",
    ),
    "harken.audio.mfcc.MFCCPreprocessor": (
        "nemo.collections.asr.modules.AudioToMFCCPreprocessor",
        "nemo.collections.asr.modules.audio_preprocessing.AudioToMFCCPreprocessor",
    ),
    "harken.audio.spec_augment.SpectrogramAugmentation": (
        "nemo.collections.asr.modules.SpectrogramAugmentation",
        "nemo.collections.asr.modules.audio_preprocessing.SpectrogramAugmentation",
    ),
    "harken.modules.conv_asr.ConvASREncoder": (
        "nemo.collections.asr.modules.ConvASREncoder",
        "nemo.collections.asr.modules.conv_asr.ConvASREncoder",
    ),
    "harken.modules.conformer.ConformerEncoder": (
        "nemo.collections.asr.modules.ConformerEncoder",
        "nemo.collections.asr.modules.conformer_encoder.ConformerEncoder",
    ),
    "harken.modules.conv_asr.ConvASRDecoder": (
        "nemo.collections.asr.modules.ConvASRDecoder",
        "nemo.collections.asr.modules.conv_asr.ConvASRDecoder",
    ),
    "harken.modules.classification_head.ConvASRDecoderClassification": (
        "nemo.collections.asr.modules.ConvASRDecoderClassification",
        "nemo.collections.asr.modules.conv_asr.ConvASRDecoderClassification",
    ),
    "harken.modules.classification_head.MultiLayerPerceptron": (
        "nemo.collections.common.parts.MultiLayerPerceptron",
        "nemo.collections.common.parts.multi_layer_perceptron.MultiLayerPerceptron",
    ),
}
# model-level `target:` keys of a .nemo config
MODEL_TARGETS = {
    "harken.models.ctc_model.ASRModel": "ctc",
    "nemo.collections.asr.models.ctc_models.EncDecCTCModel": "ctc",
    "nemo.collections.asr.models.EncDecCTCModel": "ctc",
    "nemo.collections.asr.models.ctc_bpe_models.EncDecCTCModelBPE": "ctc",
    "nemo.collections.asr.models.EncDecCTCModelBPE": "ctc",
    "harken.models.classifier.SpeechClassifier": "classification",
    "nemo.collections.asr.models.classification_models.EncDecClassificationModel": "classification",
    "nemo.collections.asr.models.EncDecClassificationModel": "classification",
    "harken.models.classifier.FrameClassifier": "frame_classification",
    "nemo.collections.asr.models.classification_models.EncDecFrameClassificationModel": "frame_classification",
    "nemo.collections.asr.models.EncDecFrameClassificationModel": "frame_classification",
}
NEMO_CTC_MODEL_TARGET = "nemo.collections.asr.models.ctc_models.EncDecCTCModel"
NEMO_CLASSIFIER_TARGET = "nemo.collections.asr.models.classification_models.EncDecClassificationModel"
NEMO_FRAME_CLASSIFIER_TARGET = "nemo.collections.asr.models.classification_models.EncDecFrameClassificationModel"
NEMO_CTC_BPE_MODEL_TARGET = "nemo.collections.asr.models.ctc_bpe_models.EncDecCTCModelBPE"

_ALIASES = {alias: canonical for canonical, aliases in _FAMILIES.items() for alias in (canonical, *aliases)}


class UnknownTargetError(ValueError):
    pass


def canonical_target(name: str) -> str:
    try:
        return _ALIASES[name]
    except KeyError:
        supported = "\n  ".join(sorted(_FAMILIES))
        raise UnknownTargetError(
            f"_target_ {name!r} is not a supported module. harken resolves only these "
            f"(or their NeMo names):\n  {supported}"
        ) from None


def nemo_target(name: str) -> str:
    """The NeMo class path for a harken (or NeMo) target, used when writing archives."""
    return _FAMILIES[canonical_target(name)][0]


def resolve_class(name: str) -> type:
    module, _, cls = canonical_target(name).rpartition(".")
    return getattr(importlib.import_module(module), cls)


def instantiate(cfg: dict, **extra: Any) -> Any:
    """Build the object a config section describes (`_target_` plus keyword arguments)."""
    if "_target_" not in cfg:
        raise UnknownTargetError(f"config section has no _target_: keys are {sorted(cfg)}")
    kwargs = {k: v for k, v in cfg.items() if k != "_target_"}
    kwargs.update(extra)
    return resolve_class(cfg["_target_"])(**kwargs)
