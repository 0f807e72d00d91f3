"""Where a long recording pauses: cut points so that each piece is decoded as one utterance.

Models trained on single utterances (the shipped one, and most CTC models) decode a pause between two
sentences poorly when both are in one input: they seldom write the word boundary and add stray letters in
the silence (bench/RESULTS.md, "Long recordings"). So long inputs are cut at pauses and each speech region
is decoded on its own, as it would be one by one; a region longer than a chunk is still decoded in
overlapping chunks. A pause is a run of at least `min_pause` seconds of 20 ms frames quieter than a
threshold set between the recording's noise floor (10th percentile of frame levels) and its speech level
(95th percentile). Where there is no clear pause (steady noise, music) nothing is cut and the chunked
decoder takes the whole input. A VAD (`Transcriber(segmenter=...)`) can replace this rule.
"""

from __future__ import annotations

import numpy as np

from harken.inference.inputs import AudioInput

FRAME_S = 0.02


def frame_levels(blocks, sample_rate: int) -> np.ndarray:
    """Level in dB (RMS, full scale 0 dB) of each 20 ms frame of a stream of sample blocks."""
    hop = round(FRAME_S * sample_rate)
    levels, rest = [], np.zeros(0, np.float32)
    for block in blocks:
        x = np.concatenate([rest, block]) if len(rest) else block
        n = len(x) // hop
        if n:
            frames = x[: n * hop].reshape(n, hop).astype(np.float64)
            levels.append(10 * np.log10(np.mean(frames**2, axis=1) + 1e-10))
        rest = x[n * hop:]
    if len(rest):
        levels.append(np.array([10 * np.log10(np.mean(rest.astype(np.float64) ** 2) + 1e-10)]))
    return np.concatenate(levels) if levels else np.zeros(0)


def speech_regions(levels: np.ndarray, min_pause: float = 0.3, keep_silence: float = 0.2,
                   share: float = 0.25) -> list[tuple[float, float]]:
    """(start, end) seconds of the stretches between pauses, each with up to `keep_silence` seconds of the
    pause on either side (the model saw some silence around every training utterance). A stretch that is
    only silence is dropped. One region (the whole input) when no pause is found."""
    total = len(levels) * FRAME_S
    if not len(levels):
        return []
    floor, loud = max(np.percentile(levels, 10), -90.0), np.percentile(levels, 95)
    if loud - floor < 10:  # no contrast between speech and the rest: nothing to cut on
        return [(0.0, total)]
    quiet = levels < floor + share * (loud - floor)
    edges = np.diff(np.r_[0, quiet.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    need = round(min_pause / FRAME_S)
    pauses = [(s, e) for s, e in zip(starts, ends) if e - s >= need]
    keep = round(keep_silence / FRAME_S)
    regions, pos = [], 0
    for s, e in pauses:
        if s > pos:  # speech from pos to s
            regions.append((max(pos - keep, 0) if pos else 0, min(s + keep, e)))
        pos = e
    if pos < len(levels):
        regions.append((max(pos - keep, 0) if pos else 0, len(levels)))
    return [(a * FRAME_S, min(b * FRAME_S, total)) for a, b in regions if b > a]


def split_at_pauses(inp: AudioInput, sample_rate: int, **options) -> list[tuple[float, float]]:
    """Speech regions of one input, in seconds from its start (reads the input once, in blocks)."""
    from harken.inference.long_audio import read_blocks

    return speech_regions(frame_levels(read_blocks(inp, sample_rate), sample_rate), **options)
