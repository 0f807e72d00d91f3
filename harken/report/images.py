"""Small pictures without a plotting library: a PNG encoder, a waveform and spectrogram renderer.

A data report needs a few hundred thumbnails; matplotlib would double harken's install size for that.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

# a perceptually ordered dark-blue -> green -> yellow ramp (viridis-like), interpolated to 256 steps
_STOPS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64)
COLORMAP = np.stack([np.interp(np.linspace(0, 4, 256), np.arange(5), _STOPS[:, c]) for c in range(3)], 1).astype(
    np.uint8)


def png(rgb: np.ndarray) -> bytes:
    """Encode an [H, W, 3] uint8 image as PNG."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def waveform_image(audio: np.ndarray, width: int = 480, height: int = 80) -> np.ndarray:
    """Min/max envelope per pixel column, dark blue on white."""
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    if len(audio) == 0:
        return img
    cols = np.array_split(audio, width) if len(audio) >= width else [audio[i:i + 1] for i in range(len(audio))]
    peak = max(float(np.abs(audio).max()), 1e-6)
    mid = height // 2
    for x, col in enumerate(cols[:width]):
        lo = int(mid - (float(col.max()) / peak) * (mid - 1))
        hi = int(mid - (float(col.min()) / peak) * (mid - 1))
        img[max(lo, 0):min(hi, height - 1) + 1, x] = (40, 60, 140)
    img[mid, :] = np.minimum(img[mid, :], 180)
    return img


def heatmap_image(values: np.ndarray, height: int = 120, width: int = 480, floor_db: float = 80.0) -> np.ndarray:
    """[bins, frames] log-scaled values -> an image with low frequencies at the bottom, stretched to `width`."""
    v = np.asarray(values, dtype=np.float64)
    v = np.clip(v, v.max() - floor_db / 10 * np.log(10), None)  # an ~80 dB range in natural-log units
    v = (v - v.min()) / max(v.max() - v.min(), 1e-9)
    rows = np.linspace(0, v.shape[0] - 1, height).round().astype(int)
    cols = np.linspace(0, v.shape[1] - 1, width).round().astype(int)
    return COLORMAP[(v[rows[::-1]][:, cols] * 255).astype(np.uint8)]
