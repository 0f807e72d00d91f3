"""The greedy transducer rules on a scripted step (the joint's scores are read from the 'encoder' frames),
so each rule is checked on its own: RNNT's per-frame symbol limit, TDT's durations (a blank with duration 0
moves one frame, a token with duration 0 stays), scores, and rows of different lengths in one batch."""

from __future__ import annotations

import math

import pytest
import torch

from harken.decoding.transducer_greedy import GreedyTransducer, transducer_greedy

BLANK = 2  # tokens 0 and 1, then the blank, then the durations


class ScriptedStep:
    """frames[b, t] are the joint's scores at frame t whatever was emitted; the state counts emissions."""

    def __init__(self, durations=()):
        self.blank_id, self.durations = BLANK, list(durations)
        self.fed: list[list[int]] = []

    def encoder_frames(self, encoded):
        return encoded.transpose(1, 2)

    def predict(self, tokens, state):
        self.fed.append(tokens.tolist())
        count = torch.zeros(1, len(tokens), 1) if state is None else state + (tokens != BLANK)[None, :, None]
        return torch.zeros(len(tokens), 1), count

    def joint(self, frames, pred):
        return frames + pred

    def merge_states(self, new, old, take_new):
        return torch.where(take_new[None, :, None], new, old)


def scores(*rows):
    """rows of (token, duration index or None) per frame -> encoder output [B, C, T] with those argmaxes."""
    n_dur = max((d + 1 for row in rows for _, d in row if d is not None), default=0)
    out = torch.zeros(len(rows), BLANK + 1 + n_dur, max(len(r) for r in rows))
    for b, row in enumerate(rows):
        for t, (k, d) in enumerate(row):
            out[b, k, t] = 5.0
            if d is not None:
                out[b, BLANK + 1 + d, t] = 3.0
    return out


def test_rnnt_stops_at_max_symbols_per_frame():
    enc = scores([(0, None), (BLANK, None), (1, None)])
    (seq,) = transducer_greedy(ScriptedStep(), enc, torch.tensor([3]), max_symbols=3)
    assert seq.token_ids == [0, 0, 0, 1, 1, 1] and seq.frames == [0, 0, 0, 2, 2, 2]
    assert seq.durations == [1] * 6 and seq.num_frames == 3
    lp = enc[0, :, 0].log_softmax(0)[0].item()
    assert seq.token_logprobs == pytest.approx([lp] * 6) and seq.score == pytest.approx(6 * lp)


def test_tdt_durations_skip_frames_and_blank_zero_moves_one():
    durations = [0, 1, 2]
    enc = scores([(0, 2), (1, 1), (BLANK, 0), (1, 0)])  # frame 1 is skipped by the first token's duration 2
    step = ScriptedStep(durations)
    (seq,) = GreedyTransducer(max_symbols=2)(step, enc, torch.tensor([4]))
    assert seq.token_ids == [0, 1, 1] and seq.frames == [0, 3, 3] and seq.durations == [2, 0, 0]
    full = enc[0].log_softmax(0)  # the score: tokens and durations normalised together (NeMo on CPU)
    assert seq.score == pytest.approx(float(full[0, 0] + 2 * full[1, 3]), abs=1e-6)
    tokens_only = enc[0, : BLANK + 1].log_softmax(0)  # confidence: the token's own probability
    assert seq.token_logprobs == pytest.approx([float(tokens_only[0, 0])] + [float(tokens_only[1, 3])] * 2)
    assert step.fed == [[BLANK], [0], [1], [1]]  # the start, then each emitted token


def test_rows_of_a_batch_decode_as_they_would_alone():
    rows = [[(0, None), (1, None), (0, None), (BLANK, None)], [(1, None), (0, None)]]
    enc = scores(*rows)
    lengths = torch.tensor([4, 1])
    batched = transducer_greedy(ScriptedStep(), enc, lengths, max_symbols=2)
    for b in range(2):
        (alone,) = transducer_greedy(ScriptedStep(), enc[b:b + 1, :, : int(lengths[b])], lengths[b:b + 1], 2)
        assert batched[b] == alone
    assert batched[1].token_ids == [1, 1] and batched[1].num_frames == 1


def test_empty_input_gives_empty_sequences():
    (seq,) = transducer_greedy(ScriptedStep(), torch.zeros(1, 3, 0), torch.tensor([0]))
    assert seq.token_ids == [] and seq.score == 0.0 and not math.isnan(seq.score)
