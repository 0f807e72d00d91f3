"""What an exported model says about itself: ONNX metadata and the `tokens.txt` beside it.

The sherpa-onnx keys (`vocab_size` counting the blank, `normalize_type`, `subsampling_factor`, `model_type`,
`feat_dim`, `is_giga_am`, `version`, `model_author`, `comment`) let sherpa-onnx's NeMo CTC loader read the
file. harken's own keys describe the front end exactly (NeMo's log-mel or MFCC, dither off) plus labels,
tokenizer and frame shift, so `harken.runtime` needs nothing but the `.onnx` file to reproduce the
torch pipeline's features, text and times.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import harken
from harken.audio.mel import MelSpectrogramPreprocessor
from harken.audio.mfcc import MFCCPreprocessor
from harken.core.atomic import atomic_write_text

EXPORT_FORMAT = "1"  # harken_export_version: bump when the meaning of a key changes


def model_kind(model) -> str:
    """"ctc", "classifier" or "frame_classifier": what the graph outputs and how the runtime reads it."""
    from harken.models.classifier import FrameClassifier, SpeechClassifier
    from harken.models.ctc_model import CTCModel

    if isinstance(model, CTCModel):
        return "ctc"
    if isinstance(model, FrameClassifier):
        return "frame_classifier"
    if isinstance(model, SpeechClassifier):
        return "classifier"
    raise ValueError(f"ONNX export supports CTC models and classifiers, not a {type(model).__name__} "
                     "(transducer export is not written yet)")


def front_end_metadata(model) -> dict[str, str]:
    """The preprocessor's settings, in eval mode (dither 0), as the runtime's numpy twin reads them."""
    pre, cfg = model.preprocessor, model.cfg.get("preprocessor", {})
    f = pre.featurizer
    common = {"sample_rate": pre.sample_rate, "window_size": cfg.get("window_size", 0.02),
              "window_stride": cfg.get("window_stride", 0.01), "win_length": f.win_length,
              "hop_length": f.hop_length, "n_fft": f.n_fft, "window": cfg.get("window", "hann"),
              "lowfreq": float(cfg.get("lowfreq") or 0.0),
              "highfreq": float(cfg.get("highfreq") or pre.sample_rate / 2),
              "dither": 0.0}
    if isinstance(pre, MelSpectrogramPreprocessor):
        meta = {**common, "frontend": "mel", "features": f.nfilt, "preemph": f.preemph if f.preemph else 0.0,
                "log": int(bool(f.log)), "log_zero_guard_value": f.log_zero_guard_value,
                "mag_power": f.mag_power, "normalize": _normalize(f.normalize), "pad_to": f.pad_to,
                "pad_value": f.pad_value, "mel_norm": "slaney"}
    elif isinstance(pre, MFCCPreprocessor):
        meta = {**common, "frontend": "mfcc", "features": int(f.dct_mat.shape[1]),
                "n_mels": int(f.dct_mat.shape[0]), "normalize": "", "pad_to": 0, "mel_norm": "htk"}
    else:
        raise ValueError(f"no runtime twin for the front end {type(pre).__name__}")
    win = f.window if isinstance(pre, MelSpectrogramPreprocessor) else f.MelSpectrogram.spectrogram.window
    if win is not None:  # the checkpoint's float32 window: quiet bins 60 dB down feel its rounding (tests)
        meta["window_values"] = base64.b64encode(win.detach().cpu().float().numpy().astype("<f4").tobytes()).decode()
    return {k: _text(v) for k, v in meta.items()}


def model_metadata(model) -> dict[str, str]:
    """Every metadata key of an exported model, values as strings (ONNX metadata is string to string)."""
    kind = model_kind(model)
    front = front_end_metadata(model)
    target = model.export_config()["target"]
    meta = {
        "model_type": target.rsplit(".", 1)[-1],
        "version": "1",
        "model_author": "harken",
        "comment": f"exported by harken {harken.__version__}: encoder + head, features as input",
        "subsampling_factor": str(model.encoder.subsampling()),
        "normalize_type": front["normalize"],
        "feat_dim": front["features"],
        "is_giga_am": "0",
        "harken_export_version": EXPORT_FORMAT,
        "harken_version": harken.__version__,
        "kind": kind,
        "frame_shift": repr(float(model.frame_shift)),
        **front,
    }
    if kind == "ctc":
        tok = model.tokenizer
        meta.update(vocab_size=str(len(model.labels) + 1), blank_id=str(model.blank_id),
                    labels=json.dumps(model.labels, ensure_ascii=False), tokenizer_type=_tokenizer_type(tok))
        if meta["tokenizer_type"] == "bpe":  # SentencePiece's decode (byte pieces, <unk>) needs the model itself
            meta["tokenizer_model"] = base64.b64encode(tok.model_proto).decode("ascii")
    else:
        meta.update(vocab_size=str(len(model.labels)), labels=json.dumps(model.labels, ensure_ascii=False))
    return meta


def write_tokens(path: str | Path, labels: list[str]) -> Path:
    """sherpa-onnx's `tokens.txt`: `<token> <id>` per line, the blank (`<blk>`) last as in NeMo CTC.
    A space label is written as-is (`  0`): sherpa-onnx and harken read a line holding only an id as a space."""
    lines = [f"{label} {i}" for i, label in enumerate(labels)] + [f"<blk> {len(labels)}"]
    return atomic_write_text(path, "\n".join(lines) + "\n")


def add_metadata(onnx_path: str | Path, meta: dict[str, str]) -> None:
    """Replace the model's metadata with `meta`, in place."""
    import onnx

    proto = onnx.load(str(onnx_path))
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(onnx_path))


def _tokenizer_type(tok) -> str:
    from harken.text.bpe_tokenizer import BPETokenizer
    from harken.text.wordpiece_tokenizer import WordPieceTokenizer

    return "bpe" if isinstance(tok, BPETokenizer) else "wpe" if isinstance(tok, WordPieceTokenizer) else "char"


def _normalize(kind: str | None) -> str:
    """sherpa-onnx's convention: "" for no normalisation."""
    return "" if not kind or kind in ("None", "NA") else str(kind)


def _text(v) -> str:
    return repr(float(v)) if isinstance(v, float) else str(v)
