"""NeMo's overlap smoothing of window-VAD probabilities (`generate_overlap_vad_seq_per_tensor`), numpy only.

A window VAD gives one probability per shift (say 80 ms) for a window of 0.63 s. Smoothing spreads each window's
probability over the 10 ms units it covers and takes, per unit, the mean or median of the windows covering it:
a 10 ms curve `shift / 0.01` times longer than the input. Units no window covers (none, with NeMo's own
settings) get the last value that was computed. Arithmetic is float32, as NeMo's tensors.
"""

from __future__ import annotations

import numpy as np


def overlap_smoothing(probs: np.ndarray, method: str = "median", overlap: float = 0.875,
                      window_length: float = 0.63, shift_length: float = 0.08, unit: float = 0.01) -> np.ndarray:
    """Per-`unit` smoothed curve of length len(probs) * shift units (see the module docstring)."""
    if method not in ("mean", "median"):
        raise ValueError("smoothing method must be mean or median")
    frames = np.asarray(probs, dtype=np.float32).reshape(-1)
    shift = int(shift_length / unit)  # units per input step
    seg = int(window_length / unit + 1)  # units per window
    jump = int(int(seg * (1 - overlap)) / shift)  # input steps between the windows used
    if jump < 1:
        raise ValueError(f"overlap {overlap}, window {window_length} s and shift {shift_length} s leave no "
                         "window to jump to (NeMo's jump_on_frame < 1): lower the overlap")
    n_out = len(frames) * shift
    # window i covers units [i * shift, i * shift + seg): unit j sees windows last - k, k = 0 .. depth - 1
    depth = -(-seg // shift) + 1
    j = np.arange(n_out)[:, None]
    idx = j // shift - np.arange(depth)[None, :]
    valid = (idx >= 0) & (idx < len(frames)) & (idx * shift + seg > j) & (idx % jump == 0)
    values = np.where(valid, frames[np.clip(idx, 0, len(frames) - 1)], np.float32(np.nan))
    if method == "mean":
        total = np.zeros(n_out, dtype=np.float32)
        for k in range(depth - 1, -1, -1):  # windows in ascending order, as NeMo adds them
            total = np.where(valid[:, k], total + values[:, k], total)
        count = valid.sum(axis=1).astype(np.float32)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = total / count
    else:
        out = _nanmedian(values, valid.sum(axis=1))
    return _fill_with_last(out)


def _nanmedian(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """torch.nanquantile(q=0.5) per row: linear interpolation between the middle values, NaN for empty rows."""
    s = np.sort(values, axis=1)  # NaN last
    rank = np.float32(0.5) * (count.astype(np.float32) - 1)
    lo = np.floor(rank).astype(int).clip(0, s.shape[1] - 1)
    hi = np.ceil(rank).astype(int).clip(0, s.shape[1] - 1)
    rows = np.arange(len(s))
    a, b, w = s[rows, lo], s[rows, hi], (rank - lo).astype(np.float32)
    out = np.where(w < 0.5, a + w * (b - a), b - (b - a) * (np.float32(1) - w)).astype(np.float32)
    return np.where(count > 0, out, np.float32(np.nan))


def _fill_with_last(out: np.ndarray) -> np.ndarray:
    missing = np.isnan(out)
    if missing.any() and not missing.all():
        out[missing] = out[~missing][-1]
    return out
