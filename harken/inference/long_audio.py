"""Long recordings in bounded memory: read a file in blocks, encode overlapping windows, join the decodes.

Frames are cut on the whole recording's encoder-frame grid (a frame is hop x subsampling samples, 320 at
16 kHz for a 2x-subsampling model). Central part k covers frames [k*C, (k+1)*C); its window adds X frames of
left and right context (less at the file's ends) and starts on a frame boundary, so window frame i is
exactly whole-file frame start + i. Only the central frames of each window are kept. Memory holds one
window of samples plus one block read from the file (~3 MB at the defaults), never the whole recording.

Greedy decoding runs on each window's central frames, and runs of the same token that meet at a seam are
merged, so the tokens are what greedy decoding of the concatenated frames would give. A beam search
(`decoding`, log-probs -> ids) cannot run over an hour at once: its prefixes and the CTC alignment of its
output (frames x tokens) grow with the length. Central log-probs are therefore buffered (float32, 4 x
classes bytes a frame: under 3 x chunk_s of them, < 0.6 MB for a 29-class model at 30 s) and searched in
pieces of 0.5-2.5 chunks, cut at the longest pause (frames whose best class is blank or a word boundary:
after its last boundary, else in its middle); the language model's context restarts at each cut.

Transducers: each window's central encoder frames go to the greedy search with the search's state (the
prediction network's output and state, a TDT duration that jumped past the window) carried to the next
window, so the tokens are what one search over the joined frames gives; a transducer beam search keeps the
central frames and searches them once. With full attention the frames still differ a little from a
whole-file encode (attention sees only the window); with local attention inside the context they do not.

Normalisation: the front end's per-feature mean and variance are computed per window (context included),
as NeMo's buffered inference does, so frames differ slightly from a whole-file encode; the seam tests
measure how much that changes the text. `decode_spans` decodes given (start, end) spans (from a VAD) as
separate utterances and places them on the input's frame grid.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from harken.audio.io import AudioError
from harken.core.inference_mode import inference_mode
from harken.decoding.ctc import ctc_decode
from harken.decoding.ctc_greedy import runs
from harken.decoding.results import DecodedSequence
from harken.decoding.transducer_greedy import GreedyCarry, GreedyTransducer, transducer_greedy_carried
from harken.inference.inputs import AudioInput

BLOCK_S = 4.0  # seconds read from the file at a time


def decode_long(model, inp: AudioInput, decoding=None, chunk_s: float = 30.0, context_s: float = 5.0,
                progress: bool = False) -> tuple[DecodedSequence, float]:
    """One recording (a file or an array at the model's rate), any length -> (tokens with frames from the
    input's start, seconds of audio). Windows are chunk_s + context_s on each side."""
    if chunk_s <= 0 or context_s < 0:
        raise ValueError(f"chunk_s must be > 0 and context_s >= 0, got {chunk_s} and {context_s}")
    sr = model.sample_rate
    grid = round(model.frame_shift * sr)  # samples per encoder frame
    C, X = max(1, round(chunk_s * sr / grid)), max(0, round(context_s * sr / grid))
    out = Joined(model.word_pieces)
    if getattr(model, "cur_decoder", "ctc") != "ctc":  # a transducer head: encoder frames, searched with state
        pieces = _TransducerPieces(model, decoding, out)
    elif decoding is not None:
        pieces = _BeamPieces(model, decoding, C, out)
    else:
        pieces = _GreedyPieces(model, out)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=max(1, math.ceil(inp.seconds(sr) * sr / grid / C)), desc=Path(inp.name).name,
                   unit="window")
    buf, buf_start, k = np.zeros(0, np.float32), 0, 0  # buf[0] is sample buf_start: window k's first
    total_samples, total_frames = 0, 0

    def window(last: bool) -> None:
        nonlocal total_frames
        ws = max(0, k * C - X)  # the window's first frame
        wave = buf if last else buf[:((k + 1) * C + X) * grid - buf_start]
        if last and len(wave) <= (k * C - ws) * grid and k > 0:
            return  # nothing left past the previous window's central part
        dev = model.device
        frames, n = pieces.frames(torch.from_numpy(wave)[None].to(dev), torch.tensor([len(wave)], device=dev))
        central = frames[k * C - ws: n if last else k * C - ws + C]
        total_frames = k * C + len(central)
        pieces.push(central, k * C)
        if bar is not None:
            bar.update(1)

    with inference_mode(model):
        for block in read_blocks(inp, sr):
            total_samples += len(block)
            buf = np.concatenate([buf, block]) if len(buf) else np.ascontiguousarray(block, np.float32)
            while buf_start + len(buf) >= ((k + 1) * C + X) * grid:  # window k's right context is in
                window(last=False)
                k += 1
                cut = max(0, k * C - X) * grid - buf_start
                buf, buf_start = buf[cut:], buf_start + cut
        if total_samples:
            window(last=True)
        pieces.flush()
    if bar is not None:
        bar.close()
    return out.result(total_frames), total_samples / sr


def _ctc_blank(model) -> int:
    head = getattr(model, "ctc_decoder", None)  # a hybrid's CTC head
    return int(head.blank_id) if head is not None else int(model.blank_id)


def decode_spans(model, inp: AudioInput, spans: list[tuple[float, float]], decoding=None,
                 chunk_s: float = 30.0, context_s: float = 5.0) -> DecodedSequence:
    """Decode each (start, end) span in seconds from the input's start as its own utterance (the hook for a
    VAD) -> one sequence with frames from the input's start. Spans must be sorted and must not overlap.
    Each span starts on the frame grid (its start rounded down to a frame), so its frames shift exactly."""
    prev_end = 0.0
    for i, (start, end) in enumerate(spans):
        if not 0 <= start < end:
            raise ValueError(f"span {i} ({start}, {end}): need 0 <= start < end (seconds)")
        if start < prev_end:
            raise ValueError(f"span {i} ({start}, {end}) starts before span {i - 1} ends ({prev_end}): "
                             "spans must be sorted and must not overlap")
        prev_end = end
    sr = model.sample_rate
    grid = round(model.frame_shift * sr)
    out, num_frames = Joined(model.word_pieces), math.ceil(inp.seconds(sr) * sr / grid)
    for start, end in spans:
        if inp.duration is not None:
            end = min(end, inp.duration)
        first = int(start * sr) // grid
        if end <= first * grid / sr:
            continue
        part = AudioInput(inp.source, inp.offset + first * grid / sr, end - first * grid / sr, inp.where)
        seq, _ = decode_long(model, part, decoding, chunk_s, context_s)
        out.add(seq.shifted(first), merge=False)
        num_frames = max(num_frames, first + seq.num_frames)
    return out.result(num_frames)


class Joined:
    """Tokens of consecutive parts, appended in order. `merge=True` (greedy windows) joins a run split by a
    seam; `merge=False` (separately decoded pieces) inserts a word boundary where two pieces would run
    two words together (an inserted boundary has log-prob 0: no frame voted for it)."""

    def __init__(self, pieces: list[str]):
        self.pieces = pieces
        self.space = next((i for i, p in enumerate(pieces) if p == " "), None)
        self.ids, self.frames, self.durations, self.lps, self.score = [], [], [], [], 0.0

    def add(self, seq: DecodedSequence, merge: bool) -> None:
        self.score += seq.score
        ids, frames, durations, lps = seq.token_ids, seq.frames, seq.durations, seq.token_logprobs
        if not ids:
            return
        if self.ids:
            end = self.frames[-1] + self.durations[-1]
            if merge and self.ids[-1] == ids[0] and end == frames[0]:
                self.durations[-1] += durations[0]
                self.lps[-1] = max(self.lps[-1], lps[0])
                ids, frames, durations, lps = ids[1:], frames[1:], durations[1:], lps[1:]
            elif (not merge and self.space is not None and end < frames[0]
                  and not self.pieces[self.ids[-1]].endswith(" ") and not self.pieces[ids[0]].startswith(" ")):
                self.ids.append(self.space)
                self.frames.append(end)
                self.durations.append(1)
                self.lps.append(0.0)
        self.ids += ids
        self.frames += frames
        self.durations += durations
        self.lps += lps

    def extend(self, seq: DecodedSequence) -> None:
        """Append a continuation as it is (a search that carried its state across the seam)."""
        self.score += seq.score
        self.ids += seq.token_ids
        self.frames += seq.frames
        self.durations += seq.durations
        self.lps += seq.token_logprobs

    def result(self, num_frames: int) -> DecodedSequence:
        return DecodedSequence(self.ids, self.frames, self.durations, self.lps, self.score, num_frames)


def _ctc_frames(model, wave: torch.Tensor, length: torch.Tensor) -> tuple[torch.Tensor, int]:
    """A window's per-frame CTC log-probs [T, V+1] and its valid frames (the CTC head is per frame, so the
    central frames are the whole recording's, up to the encoder's context)."""
    encoded, encoded_len = model.encode(wave, length, pad_to=0)
    return model.ctc_log_probs(encoded)[0].float(), int(encoded_len[0])


class _GreedyPieces:
    """Greedy CTC on each window's central frames as it comes; a run split by a seam is merged."""

    def __init__(self, model, out: Joined):
        self.model, self.blank_id, self.out = model, _ctc_blank(model), out

    def frames(self, wave: torch.Tensor, length: torch.Tensor) -> tuple[torch.Tensor, int]:
        return _ctc_frames(self.model, wave, length)

    def push(self, lp: torch.Tensor, first: int) -> None:
        best_lp, best = lp.max(dim=-1)
        self.out.add(runs(best.cpu().numpy(), best_lp.cpu().numpy(), self.blank_id).shifted(first), merge=True)

    def flush(self) -> None:
        pass


class _BeamPieces:
    """Central log-probs buffered until 2 chunks are in, then searched up to the longest pause among them."""

    def __init__(self, model, search, chunk: int, out: Joined):
        self.model, self.blank_id, self.search, self.chunk, self.out = model, _ctc_blank(model), search, chunk, out
        self.gaps = [i for i, p in enumerate(out.pieces) if not p.strip()] + [self.blank_id]
        self.pending: list[np.ndarray] = []
        self.start = 0  # frame of the first pending one

    def frames(self, wave: torch.Tensor, length: torch.Tensor) -> tuple[torch.Tensor, int]:
        return _ctc_frames(self.model, wave, length)

    def push(self, lp: torch.Tensor, first: int) -> None:
        self.pending.append(lp.cpu().numpy())
        if sum(len(x) for x in self.pending) < 2 * self.chunk:
            return
        lp = np.concatenate(self.pending)
        lo, hi = self.chunk // 2, len(lp) - self.chunk // 2
        best = lp[lo:hi].argmax(axis=1)
        edges = np.diff(np.r_[0, np.isin(best, self.gaps).astype(np.int8), 0])
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        cut = (lo + hi) // 2
        if len(starts):  # the longest pause: cut after its last word boundary (a search cannot start with one)
            i = int(np.argmax(ends - starts))
            spaces = np.flatnonzero(best[starts[i]:ends[i]] != self.blank_id)
            cut = lo + starts[i] + (spaces[-1] + 1 if len(spaces) else (ends[i] - starts[i]) // 2)
        self._decode(lp[:cut])
        self.pending = [lp[cut:]]

    def flush(self) -> None:
        if self.pending:
            self._decode(np.concatenate(self.pending))
            self.pending = []

    def _decode(self, lp: np.ndarray) -> None:
        if not len(lp):
            return
        seq = ctc_decode(torch.from_numpy(lp)[None], torch.tensor([len(lp)]), self.blank_id, self.search)[0]
        self.out.add(seq.shifted(self.start), merge=False)
        self.start += len(lp)


class _TransducerPieces:
    """A transducer head over windows of encoder frames. Greedy decodes each window's central frames as they
    come, carrying the search's state (prediction network, TDT skip) across, so the tokens are what one
    search over the joined frames gives. A beam search keeps the frames (C x 4 bytes each, e.g. 60 MB an hour
    for 1,024 channels at 80 ms) and searches them once at the end."""

    def __init__(self, model, decoding, out: Joined):
        self.model, self.out = model, out
        self.search = model.transducer_search(decoding)
        self.greedy = isinstance(self.search, GreedyTransducer)
        self.carry: GreedyCarry | None = None
        self.pending: list[torch.Tensor] = []

    def frames(self, wave: torch.Tensor, length: torch.Tensor) -> tuple[torch.Tensor, int]:
        encoded, encoded_len = self.model.encode(wave, length, pad_to=0)
        return encoded[0].T, int(encoded_len[0])

    def push(self, frames: torch.Tensor, first: int) -> None:
        if not self.greedy:
            self.pending.append(frames)
            return
        seqs, self.carry = transducer_greedy_carried(self.model.heads, frames.T[None], torch.tensor([len(frames)]),
                                                     self.search.max_symbols, self.carry)
        self.out.extend(seqs[0].shifted(first))

    def flush(self) -> None:
        if self.pending:
            frames = torch.cat(self.pending)
            self.out.extend(self.search(self.model.heads, frames.T[None], torch.tensor([len(frames)]))[0])
            self.pending = []


def read_blocks(inp: AudioInput, sr: int) -> Iterator[np.ndarray]:
    """The input's samples (from `offset`, for `duration`), mono float32 at `sr`, BLOCK_S at a time."""
    if isinstance(inp.source, np.ndarray):  # already at the model's rate
        a = round(inp.offset * sr)
        b = len(inp.source) if inp.duration is None else min(len(inp.source), a + round(inp.duration * sr))
        step = int(BLOCK_S * sr)
        for i in range(a, b, step):
            yield np.asarray(inp.source[i:min(i + step, b)], dtype=np.float32)
        return
    path = Path(inp.source)
    name = f"{inp.where}: {path}" if inp.where else str(path)
    if not path.exists():
        raise AudioError(f"{name}: audio file not found")
    if path.stat().st_size == 0:
        raise AudioError(f"{name}: audio file is empty (0 bytes)")
    try:
        with sf.SoundFile(str(path)) as f:
            native = f.samplerate
            start = round(inp.offset * native)
            if start > f.frames:
                raise AudioError(f"{name}: offset {inp.offset}s is past the end ({f.frames / native:.2f}s)")
            f.seek(start)
            left = f.frames - start
            if inp.duration is not None:
                left = min(left, round(inp.duration * native))
            stream = soxr.ResampleStream(native, sr, 1, dtype="float32", quality="HQ") if native != sr else None
            step = int(BLOCK_S * native)
            while left > 0:
                x = f.read(min(step, left), dtype="float32", always_2d=True)
                if not np.isfinite(x).all():  # refused as load_audio refuses them: NaN decodes as garbage
                    at = (f.tell() - len(x)) / native
                    raise AudioError(f"{name}: holds NaN or infinite samples (in the {BLOCK_S:g} s from {at:.1f} s)")
                left = left - len(x) if len(x) else 0
                x = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
                yield stream.resample_chunk(x, last=left <= 0) if stream is not None else x
    except AudioError:
        raise
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise AudioError(f"{name}: cannot read audio ({e})") from e
