"""NeMo's `transcribe(timestamps=True)` offsets, reproduced from a `DecodedSequence`.

NeMo's CTC offsets are shifted by one token: token i spans [first frame of token i-1, first frame of
token i], the first token [max(0, f0 - 1), f0]. harken's own results (inference/words.py) use each
token's frames instead; this module exists so a NeMo user's `hyp.timestamp` code keeps working with
identical numbers. Transducers (RNNT/TDT) take [frame, frame + duration]: RNNT tokens last one frame,
a TDT token its predicted duration (0 is kept, so it may end where it starts, or past the audio), and
each `char` entry holds a one-element list with the piece, as NeMo's transducer offsets do.
"""

from __future__ import annotations

from collections.abc import Sequence

from harken.decoding.results import DecodedSequence

SEGMENT_SEPARATORS = (".", "!", "?")


def nemo_timestamps(seq: DecodedSequence, pieces: Sequence[str], frame_shift: float, kind: str = "ctc") -> dict:
    """The `timestamp` dict of a NeMo Hypothesis: `timestep`, `char`, `word`, `segment` (offsets in encoder
    frames, `start`/`end` = offset x frame shift). `pieces` as the tokenizer's `word_pieces`; `kind` "ctc", or a
    transducer's ("rnnt", "tdt")."""
    if kind == "ctc":
        starts = [max(0, seq.frames[0] - 1), *seq.frames[:-1]] if seq.frames else []
        ends = list(seq.frames)
        timestep = [t for f, d in zip(seq.frames, seq.durations) for t in range(f, f + d)]
    else:
        starts = list(seq.frames)
        ends = [f + d for f, d in zip(seq.frames, seq.durations)]
        timestep = list(seq.frames)
    chars = []
    for i, s, e in zip(seq.token_ids, starts, ends):
        piece = pieces[i]
        chars.append({"char": piece if not piece.strip() else piece.lstrip(), "start_offset": s, "end_offset": e,
                      "start": s * frame_shift, "end": e * frame_shift, "_word_start": piece[:1].isspace()})
    words = _words(chars, frame_shift)
    for c in chars:
        del c["_word_start"]
        if kind != "ctc":
            c["char"] = [c["char"]]
    return {"timestep": timestep, "char": chars, "word": words, "segment": _segments(words, frame_shift)}


def _words(chars: list[dict], frame_shift: float) -> list[dict]:
    words, current = [], []
    for c in [*chars, None]:
        boundary = c is None or not c["char"].strip() or c["_word_start"]
        if boundary and current:
            s, e = current[0]["start_offset"], current[-1]["end_offset"]
            words.append({"word": "".join(x["char"] for x in current), "start_offset": s, "end_offset": e,
                          "start": s * frame_shift, "end": e * frame_shift})
            current = []
        if c is not None and c["char"].strip():
            current.append(c)
    return words


def _segments(words: list[dict], frame_shift: float) -> list[dict]:
    segments, current = [], []
    for i, w in enumerate(words):
        current.append(w)
        if w["word"].endswith(SEGMENT_SEPARATORS) or i == len(words) - 1:
            s, e = current[0]["start_offset"], current[-1]["end_offset"]
            segments.append({"segment": " ".join(x["word"] for x in current), "start_offset": s, "end_offset": e,
                             "start": s * frame_shift, "end": e * frame_shift})
            current = []
    return segments
