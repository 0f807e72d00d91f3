"""What a checkpoint or config may name: the allow-lists of module `_target_`s and of model classes.

Each harken class is listed with the NeMo class paths that mean the same thing, so NeMo's configs and
archives resolve to harken's classes and harken writes NeMo's names back. Model classes are listed as
(module, class) strings and imported on first use, so loading needs no import of every family.
"""

from __future__ import annotations

from harken.core.registry import TargetTable

_NEMO = "nemo.collections.asr.modules"
MODULES = TargetTable({
    "harken.audio.mel.MelSpectrogramPreprocessor": (
        f"{_NEMO}.AudioToMelSpectrogramPreprocessor", f"{_NEMO}.audio_preprocessing.AudioToMelSpectrogramPreprocessor"),
    "harken.audio.mfcc.MFCCPreprocessor": (
        f"{_NEMO}.AudioToMFCCPreprocessor", f"{_NEMO}.audio_preprocessing.AudioToMFCCPreprocessor"),
    "harken.audio.spec_augment.SpectrogramAugmentation": (
        f"{_NEMO}.SpectrogramAugmentation", f"{_NEMO}.audio_preprocessing.SpectrogramAugmentation"),
    "harken.modules.conv_asr.ConvASREncoder": (f"{_NEMO}.ConvASREncoder", f"{_NEMO}.conv_asr.ConvASREncoder"),
    "harken.modules.conformer.ConformerEncoder": (
        f"{_NEMO}.ConformerEncoder", f"{_NEMO}.conformer_encoder.ConformerEncoder"),
    "harken.modules.conv_asr.ConvASRDecoder": (f"{_NEMO}.ConvASRDecoder", f"{_NEMO}.conv_asr.ConvASRDecoder"),
    "harken.modules.rnnt.RNNTDecoder": (f"{_NEMO}.RNNTDecoder", f"{_NEMO}.rnnt.RNNTDecoder"),
    "harken.modules.rnnt.RNNTJoint": (f"{_NEMO}.RNNTJoint", f"{_NEMO}.rnnt.RNNTJoint"),
    "harken.modules.classification_head.ConvASRDecoderClassification": (
        f"{_NEMO}.ConvASRDecoderClassification", f"{_NEMO}.conv_asr.ConvASRDecoderClassification"),
    "harken.modules.classification_head.MultiLayerPerceptron": (
        "nemo.collections.common.parts.MultiLayerPerceptron",
        "nemo.collections.common.parts.multi_layer_perceptron.MultiLayerPerceptron"),
})

NEMO_CTC_MODEL_TARGET = "nemo.collections.asr.models.ctc_models.EncDecCTCModel"
NEMO_CTC_BPE_MODEL_TARGET = "nemo.collections.asr.models.ctc_bpe_models.EncDecCTCModelBPE"
NEMO_RNNT_MODEL_TARGET = "nemo.collections.asr.models.rnnt_models.EncDecRNNTModel"
NEMO_RNNT_BPE_MODEL_TARGET = "nemo.collections.asr.models.rnnt_bpe_models.EncDecRNNTBPEModel"
NEMO_HYBRID_MODEL_TARGET = "nemo.collections.asr.models.hybrid_rnnt_ctc_models.EncDecHybridRNNTCTCModel"
NEMO_HYBRID_BPE_MODEL_TARGET = "nemo.collections.asr.models.hybrid_rnnt_ctc_bpe_models.EncDecHybridRNNTCTCBPEModel"
NEMO_CLASSIFIER_TARGET = "nemo.collections.asr.models.classification_models.EncDecClassificationModel"
NEMO_FRAME_CLASSIFIER_TARGET = "nemo.collections.asr.models.classification_models.EncDecFrameClassificationModel"

_CTC = ("harken.models.ctc_model", "CTCModel")
_TRANSDUCER = ("harken.models.transducer_model", "TransducerModel")
_CLASSIFIER = ("harken.models.classifier", "SpeechClassifier")
_FRAME = ("harken.models.classifier", "FrameClassifier")
# the family table: a config's model-level `target:` -> the harken class that loads it
MODEL_FAMILIES: dict[str, tuple[str, str]] = {
    "harken.models.ctc_model.CTCModel": _CTC,
    "harken.models.ctc_model.ASRModel": _CTC,
    NEMO_CTC_MODEL_TARGET: _CTC,
    "nemo.collections.asr.models.EncDecCTCModel": _CTC,
    NEMO_CTC_BPE_MODEL_TARGET: _CTC,
    "nemo.collections.asr.models.EncDecCTCModelBPE": _CTC,
    "harken.models.transducer_model.TransducerModel": _TRANSDUCER,
    NEMO_RNNT_MODEL_TARGET: _TRANSDUCER,
    "nemo.collections.asr.models.EncDecRNNTModel": _TRANSDUCER,
    NEMO_RNNT_BPE_MODEL_TARGET: _TRANSDUCER,
    "nemo.collections.asr.models.EncDecRNNTBPEModel": _TRANSDUCER,
    NEMO_HYBRID_MODEL_TARGET: _TRANSDUCER,
    "nemo.collections.asr.models.EncDecHybridRNNTCTCModel": _TRANSDUCER,
    NEMO_HYBRID_BPE_MODEL_TARGET: _TRANSDUCER,
    "nemo.collections.asr.models.EncDecHybridRNNTCTCBPEModel": _TRANSDUCER,
    "harken.models.classifier.SpeechClassifier": _CLASSIFIER,
    NEMO_CLASSIFIER_TARGET: _CLASSIFIER,
    "nemo.collections.asr.models.EncDecClassificationModel": _CLASSIFIER,
    "harken.models.classifier.FrameClassifier": _FRAME,
    NEMO_FRAME_CLASSIFIER_TARGET: _FRAME,
    "nemo.collections.asr.models.EncDecFrameClassificationModel": _FRAME,
}
