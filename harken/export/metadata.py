"""What an exported model says about itself: ONNX metadata and the `tokens.txt` beside it.

The sherpa-onnx keys (`vocab_size` counting the blank, `normalize_type`, `subsampling_factor`, `model_type`,
`feat_dim`, `is_giga_am`, `version`, `model_author`, `comment`; for transducers also `pred_rnn_layers`,
`pred_hidden` and `url`) let sherpa-onnx's NeMo CTC and transducer loaders read the files. harken's own keys
describe the front end exactly (NeMo's log-mel or MFCC, dither off) plus labels, tokenizer and frame shift, so
`harken.runtime` needs nothing but the `.onnx` file(s) to reproduce the torch pipeline's features, text and
times.
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


def model_kind(model, head: str | None = None) -> str:
    """"ctc", "classifier", "frame_classifier" or "transducer": what the export holds and how the runtime reads
    it. `head="ctc"`: a hybrid transducer's CTC head, exported as a CTC model."""
    from harken.models.classifier import FrameClassifier, SpeechClassifier
    from harken.models.ctc_model import CTCModel
    from harken.models.transducer_model import TransducerModel

    if isinstance(model, TransducerModel):
        if head == "ctc":
            if model.ctc_decoder is None:
                raise ValueError("this transducer has no CTC head (no aux_ctc in its config): nothing to export")
            return "ctc"
        return "transducer"
    if head is not None:
        raise ValueError(f"head={head!r}: only hybrid transducers have a second head")
    if isinstance(model, CTCModel):
        return "ctc"
    if isinstance(model, FrameClassifier):
        return "frame_classifier"
    if isinstance(model, SpeechClassifier):
        return "classifier"
    raise ValueError(f"export supports CTC models, transducers and classifiers, not a {type(model).__name__}")


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


def model_metadata(model, head: str | None = None) -> dict[str, str]:
    """Every metadata key of an exported model (for a transducer: of its encoder graph), values as strings
    (ONNX metadata is string to string)."""
    kind = model_kind(model, head)
    front = front_end_metadata(model)
    target = model.export_config()["target"]
    meta = {
        "model_type": target.rsplit(".", 1)[-1],
        "version": "1",
        "model_author": "harken",
        "comment": f"exported by harken {harken.__version__}: " + (
            "the transducer head; encoder.onnx, decoder.onnx, joiner.onnx" if kind == "transducer"
            else "encoder + head, features as input"),
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
    if kind in ("ctc", "transducer"):
        tok = model.tokenizer
        blank = model.ctc_decoder.blank_id if head == "ctc" else model.blank_id
        meta.update(vocab_size=str(len(model.labels) + 1), blank_id=str(blank),
                    labels=json.dumps(model.labels, ensure_ascii=False), tokenizer_type=_tokenizer_type(tok))
        if meta["tokenizer_type"] == "bpe":  # SentencePiece's decode (byte pieces, <unk>) needs the model itself
            meta["tokenizer_model"] = base64.b64encode(tok.model_proto).decode("ascii")
    else:
        meta.update(vocab_size=str(len(model.labels)), labels=json.dumps(model.labels, ensure_ascii=False))
    if kind == "transducer":
        meta.update(transducer_metadata(model))
    return meta


def transducer_metadata(model) -> dict[str, str]:
    """The keys sherpa-onnx's NeMo transducer loader reads from encoder.onnx, and harken's decoding settings.

    sherpa-onnx counts `vocab_size` without the blank here (NeMo's `decoder.vocab_size`; it adds one), sizes
    the prediction network's zero states from `pred_rnn_layers` x `pred_hidden`, and treats a model as TDT
    when `url` contains "tdt". Its TDT search takes the duration's index as the frame skip, so it agrees
    with harken only for durations 0, 1, 2, ... (NeMo's usual [0, 1, 2, 3, 4]); harken reads `durations`."""
    lstm = model.decoder.prediction["dec_rnn"].lstm
    tdt = model.model_type == "tdt"
    return {
        "vocab_size": str(model.decoder.vocab_size),
        "pred_rnn_layers": str(lstm.num_layers),
        "pred_hidden": str(lstm.hidden_size),
        "url": "harken export: nemo tdt transducer" if tdt else "harken export: nemo rnnt transducer",
        "transducer_type": model.model_type,
        "durations": json.dumps(model.durations if tdt else []),
        "max_symbols": str(model.max_symbols or 0),
    }


def component_metadata(kind: str) -> dict[str, str]:
    """What a transducer's decoder.onnx or joiner.onnx says about itself (the rest is in encoder.onnx)."""
    return {"kind": kind, "model_author": "harken", "harken_export_version": EXPORT_FORMAT,
            "harken_version": harken.__version__}


def write_tokens(path: str | Path, labels: list[str]) -> Path:
    """sherpa-onnx's `tokens.txt`: `<token> <id>` per line, the blank (`<blk>`) last as in NeMo's CTC and
    transducer models.
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
