"""Voice activity post-processing: speech probabilities per frame -> speech segments, as NeMo computes them.

`nemo_segment_table` reproduces NeMo 3.0's `generate_vad_segment_table_per_tensor` row for row, quirks included,
so that harken's tables equal the ones NeMo's `vad_infer.py` / `frame_vad_infer.py` write:

- rows are `[start, end, end - start + 0.01]`: the duration adds NeMo's `UNIT_FRAME_LEN` (10 ms) whatever the
  frame length is;
- a segment still open at the last frame i ends at `i * frame_length + pad_offset`, which can lie past the end
  of the audio (10.18 s for 10 s of 20 ms frames with pad 0.2);
- padding comes before filtering (so `min_duration_*` see padded lengths), `pad_onset` is clipped at 0 and
  overlapping padded segments are merged;
- times and comparisons are float32, as in NeMo's tensors (thresholds from `scale: relative` too);
- the final sort orders the start and end columns independently (NeMo's `torch.sort(x, 0)`).

harken's own results (`speech_segments` -> `SpeechSpan`) use the same segments without the +0.01, clipped to
the audio's duration when it is given. The table writers produce NeMo's `.txt` and `.rttm` texts byte for byte.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from harken.inference.results import SpeechSpan

UNIT_FRAME_LEN = 0.01  # NeMo adds this to every duration, whatever the frame length


@dataclass(frozen=True)
class VADParams:
    """Post-processing settings. The defaults are the `postprocessing` block of NeMo's
    `examples/asr/conf/vad/frame_vad_infer_postprocess.yaml` (frame VAD, 20 ms frames); `SEGMENT_VAD_PARAMS`
    has those of `vad_inference_postprocessing.yaml` (window VADs). NeMo's `PostProcessingParams` dataclass
    has other defaults (0.5, 0.5, 0, 0, 0, 0), which its VAD scripts do not use."""

    onset: float = 0.3  # a frame above this starts speech
    offset: float = 0.3  # a speech frame below this ends it
    pad_onset: float = 0.2  # seconds added before each segment (clipped at 0)
    pad_offset: float = 0.2  # seconds added after each segment
    min_duration_on: float = 0.2  # shorter speech segments are dropped
    min_duration_off: float = 0.2  # shorter gaps are filled
    filter_speech_first: bool = True  # drop short speech before filling short gaps
    scale: str = "absolute"  # absolute | relative (thresholds between the curve's min and max) | percentile
    frame_length: float = 0.02  # seconds per probability

    def __post_init__(self):
        if self.scale not in ("absolute", "relative", "percentile"):
            raise ValueError(f"VAD scale must be absolute, relative or percentile, got {self.scale!r}")
        if self.frame_length <= 0:
            raise ValueError(f"VAD frame_length must be positive, got {self.frame_length}")


SEGMENT_VAD_PARAMS = VADParams(0.5, 0.3, 0.2, 0.2, 0.5, 0.5, True, frame_length=0.08)


def thresholds(probs: np.ndarray, params: VADParams) -> tuple[float, float]:
    """(onset, offset) after `scale`, as NeMo's `cal_vad_onset_offset` computes them on a float32 tensor."""
    p = np.asarray(probs, dtype=np.float32)
    if params.scale == "absolute":
        return float(params.onset), float(params.offset)
    if params.scale == "relative":  # NeMo's min()/max() of a tensor are float32 tensors: float32 arithmetic
        lo, hi = p.min(), p.max()
        f32 = np.float32
        return float(lo + f32(params.onset) * (hi - lo)), float(lo + f32(params.offset) * (hi - lo))
    s = np.sort(p)  # NeMo's percentile(): the ceil(n * perc / 100)-th smallest value, as a Python float
    lo, hi = float(s[math.ceil(len(s) * 1 / 100) - 1]), float(s[math.ceil(len(s) * 99 / 100) - 1])
    return lo + params.onset * (hi - lo), lo + params.offset * (hi - lo)


def merge_overlaps(rows: np.ndarray) -> np.ndarray:
    """NeMo's `merge_overlap_segment`: sort by start, join each row to the next where it reaches it.
    It compares neighbours only, so a row inside a long one can cut the merge short; kept as NeMo has it."""
    rows = np.asarray(rows, dtype=np.float32).reshape(-1, 2)
    if len(rows) <= 1:
        return rows
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    joins = rows[:-1, 1] >= rows[1:, 0]
    heads = rows[~np.concatenate([[False], joins]), 0]
    tails = rows[~np.concatenate([joins, [False]]), 1]
    return np.stack([heads, tails], axis=1)


def binarize(probs: np.ndarray, params: VADParams) -> np.ndarray:
    """Hysteresis thresholding to padded, merged [start, end] rows (float32, seconds): NeMo's `binarization`."""
    p = np.asarray(probs, dtype=np.float32).reshape(-1)
    if p.size == 0:
        return np.zeros((0, 2), dtype=np.float32)
    # float32 values against float32 thresholds, as torch compares a float32 tensor with a Python float;
    # as Python floats (exact widenings of both) the loop runs several times faster than on numpy scalars
    onset, offset = (float(np.float32(t)) for t in thresholds(p, params))
    fl, pad_on, pad_off = params.frame_length, params.pad_onset, params.pad_offset
    rows: list[tuple[float, float]] = []
    speech, start = False, 0.0
    for i, x in enumerate(p.tolist()):
        if speech:
            if x < offset:
                if i * fl + pad_off > max(0.0, start - pad_on):
                    rows.append((max(0.0, start - pad_on), i * fl + pad_off))
                start, speech = i * fl, False
        elif x > onset:
            start, speech = i * fl, True
    if speech:  # open at the last frame i: ends at i * fl + pad_offset (NeMo 3.0), not at the audio's end
        rows.append((max(0.0, start - pad_on), (len(p) - 1) * fl + pad_off))
    return merge_overlaps(np.array(rows, dtype=np.float32).reshape(-1, 2))


def _long_enough(rows: np.ndarray, threshold: float) -> np.ndarray:
    return rows[rows[:, 1] - rows[:, 0] >= np.float32(threshold)]


def _fill_short_gaps(rows: np.ndarray, min_off: float) -> np.ndarray:
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    gaps = np.stack([rows[:-1, 1], rows[1:, 0]], axis=1)
    short = gaps[gaps[:, 1] - gaps[:, 0] < np.float32(min_off)]
    return merge_overlaps(np.concatenate([rows, short]))


def filter_segments(rows: np.ndarray, params: VADParams) -> np.ndarray:
    """Drop speech shorter than `min_duration_on` and fill gaps shorter than `min_duration_off`, in the order
    `filter_speech_first` says: NeMo's `filtering`. A filled gap becomes a row merged with its neighbours."""
    rows = np.asarray(rows, dtype=np.float32).reshape(-1, 2)
    if len(rows) == 0:
        return rows
    on, off = params.min_duration_on, params.min_duration_off
    if params.filter_speech_first:
        if on > 0:
            rows = _long_enough(rows, on)
        if off > 0:
            rows = _fill_short_gaps(rows, off)
    else:
        if off > 0:
            rows = _fill_short_gaps(rows, off)
        if on > 0:
            rows = _long_enough(rows, on)
    return rows


def nemo_segment_table(probs: np.ndarray, params: VADParams) -> np.ndarray:
    """[N, 3] float32 rows `start, end, end - start + 0.01` exactly as NeMo's `generate_vad_segment_table_per_tensor`
    (NeMo returns shape [0] when nothing was found; this returns [0, 3])."""
    rows = filter_segments(binarize(probs, params), params)
    if len(rows) == 0:
        return np.zeros((0, 3), dtype=np.float32)
    rows = np.sort(rows, axis=0)  # each column on its own, as torch.sort(x, 0)
    return np.concatenate([rows, rows[:, 1:2] - rows[:, 0:1] + np.float32(UNIT_FRAME_LEN)], axis=1)


def speech_segments(probs: np.ndarray, params: VADParams, duration: float | None = None,
                    label: str = "speech") -> list[SpeechSpan]:
    """harken's result: NeMo's segments (without the +0.01) clipped to `duration` seconds when given, each
    scored with the mean speech probability of its frames. Times are rounded to microseconds (float32 noise)."""
    p = np.asarray(probs, dtype=np.float32).reshape(-1)
    spans = []
    for start, end, _ in nemo_segment_table(p, params).tolist():
        if duration is not None:
            start, end = min(start, duration), min(end, duration)
            if end <= start:
                continue
        a = max(0, math.ceil(start / params.frame_length - 1e-6))
        b = min(len(p), max(a + 1, math.ceil(end / params.frame_length - 1e-6)))
        score = float(p[a:b].mean()) if b > a else 0.0
        spans.append(SpeechSpan(round(start, 6), round(end, 6), label, score))
    return spans


def table_txt(rows: np.ndarray) -> str:
    """NeMo's VAD table file: `start duration speech` per row, 4 decimals; `0 0 speech` when empty."""
    if len(rows) == 0:
        return "0 0 speech\n"
    return "".join(f"{float(r[0]):.4f} {float(r[2]):.4f} speech\n" for r in rows)


def table_rttm(rows: np.ndarray, name: str) -> str:
    """NeMo's VAD RTTM (speaker `speech`, file `name`); NeMo writes a `<NA>` placeholder line when empty."""
    if len(rows) == 0:
        return "SPEAKER <NA> 1 0 0 <NA> <NA> speech <NA> <NA>\n"
    return "".join(f"SPEAKER {name} 1 {float(r[0]):.4f} {float(r[2]):.4f} <NA> <NA> speech <NA> <NA>\n"
                   for r in rows)


def with_overrides(params: VADParams, **values) -> VADParams:
    """`params` with the given non-None fields replaced (CLI options left out keep the defaults)."""
    return replace(params, **{k: v for k, v in values.items() if v is not None})
