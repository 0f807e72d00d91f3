"""Running a VAD model: speech probability per frame, then NeMo's post-processing (`harken.inference.vad`).

Two kinds of NeMo VAD load in harken:
- frame VADs (`FrameClassifier`, MarbleNet 20 ms): one probability per encoder frame, as `frame_vad_infer.py`;
- window VADs (`SpeechClassifier` labelled e.g. [background, speech]): the model judges a 0.63 s window slid
  over the audio, as `vad_infer.py` does. The audio gets half a window of zeros in front and the rest behind,
  window j is centred on j x shift, and there are len // shift windows. NeMo's own config
  (`vad_inference_postprocessing.yaml`) shifts by 0.08 s "for faster inference", and so does harken by
  default; 0.01 s gives NeMo's finest curve at 8 times the cost.
The speech probability is the softmax of the class named "speech" (or "1"); NeMo takes column 1 whatever
the labels are, which is the same class for its VAD models.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from harken.inference.results import SpeechSpan
from harken.inference.vad import SEGMENT_VAD_PARAMS, VADParams, nemo_segment_table, speech_segments
from harken.inference.vad_smoothing import overlap_smoothing

WINDOW_SECONDS = 0.63  # NeMo's window_length_in_sec for MarbleNet segment VADs
WINDOW_SHIFT = 0.08  # NeMo's vad_inference_postprocessing.yaml shift_length_in_sec
SPEECH_LABELS = ("speech", "1")


@dataclass
class VADResult:
    """One input's VAD: the probability curve, NeMo's table rows and harken's clipped spans (seconds from the
    start of what was read; `offset` says where that is in the file)."""

    source: str
    duration: float
    probs: np.ndarray
    params: VADParams
    rows: np.ndarray  # [N, 3] as NeMo's generate_vad_segment_table_per_tensor
    spans: list[SpeechSpan]
    offset: float = 0.0


def speech_index(model) -> int:
    """The output column holding speech; a clear error for models that are not VADs (classifiers are told apart
    by what they offer, so this layer never imports the model classes)."""
    if not hasattr(model, "classify"):
        raise ValueError(f"a {type(model).__name__} transcribes speech; VAD needs a MarbleNet-style VAD .nemo "
                         "(frame or segment classifier with a 'speech' class)")
    for name in SPEECH_LABELS:
        if name in model.labels:
            return model.labels.index(name)
    raise ValueError(f"the model's labels {model.labels[:8]} have no 'speech' (or '1') class: not a VAD model")


def is_frame_vad(model) -> bool:
    return hasattr(model, "frame_logits")


def default_params(model, shift: float = WINDOW_SHIFT) -> VADParams:
    """NeMo's post-processing settings for the model's kind: frame VADs get frame_vad_infer_postprocess.yaml's
    with the model's frame length, window VADs vad_inference_postprocessing.yaml's with `shift` frames."""
    if is_frame_vad(model):
        return VADParams(frame_length=model.frame_shift)
    return replace(SEGMENT_VAD_PARAMS, frame_length=shift)


def frame_speech_probs(model, wave: np.ndarray) -> np.ndarray:
    """Speech probability of every valid encoder frame of a frame VAD."""
    k = speech_index(model)
    return model.frame_logits(wave).float().softmax(-1)[:, k].numpy()


def window_speech_probs(model, wave: np.ndarray, shift: float = WINDOW_SHIFT, window: float = WINDOW_SECONDS,
                        batch_size: int = 64) -> np.ndarray:
    """Speech probability of windows centred every `shift` seconds (NeMo's vad_frame_seq_collate_fn layout)."""
    from harken.core.inference_mode import inference_mode

    k = speech_index(model)
    sr = model.sample_rate
    n = len(wave)
    size, step = min(int(sr * window), n), int(sr * shift)
    if step < 1 or size < 1:
        raise ValueError(f"VAD shift {shift} s or input of {n} samples too short to slide a window")
    padded = np.concatenate([np.zeros(size // 2, np.float32), np.asarray(wave, np.float32),
                             np.zeros(size - size // 2, np.float32)])
    starts = np.arange(n // step) * step
    out = []
    with inference_mode(model):
        for i in range(0, len(starts), batch_size):
            chunk = np.stack([padded[s:s + size] for s in starts[i:i + batch_size]])
            batch = torch.from_numpy(chunk).to(model.device)
            logits = model(batch, torch.full((len(chunk),), size, device=model.device))
            out.append(logits.float().softmax(-1)[:, k].cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def speech_probs(model, wave: np.ndarray, shift: float = WINDOW_SHIFT) -> np.ndarray:
    """Per-frame speech probabilities of either VAD kind (frame length: `default_params(model, shift)`)."""
    return frame_speech_probs(model, wave) if is_frame_vad(model) else window_speech_probs(model, wave, shift)


def detect_speech(model, wave: np.ndarray, params: VADParams | None = None, source: str = "",
                  shift: float = WINDOW_SHIFT, smoothing: str | None = None, overlap: float = 0.875) -> VADResult:
    """Speech segments of one waveform at the model's rate. `params.frame_length` must be the model's frame
    length (frame VADs) or `shift` (window VADs); `default_params` sets it. `smoothing` (mean or median, window
    VADs only) is NeMo's overlap smoothing: the curve becomes one value per 10 ms and frame_length 0.01."""
    params = params or default_params(model, shift)
    probs = speech_probs(model, wave, shift)
    if smoothing:
        if is_frame_vad(model):
            raise ValueError("smoothing is for window VADs (NeMo deprecates it for frame VADs)")
        probs = overlap_smoothing(probs, smoothing, overlap, WINDOW_SECONDS, shift)
        params = replace(params, frame_length=0.01)
    duration = len(wave) / model.sample_rate
    rows = nemo_segment_table(probs, params)
    return VADResult(source, duration, probs, params, rows, speech_segments(probs, params, duration))
