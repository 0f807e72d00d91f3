"""Greedy transducer decoding (RNNT and TDT) in numpy over the exported decoder and joiner graphs.

The decisions, times and scores of `harken.decoding.transducer_greedy` (NeMo 3.0's greedy), one utterance
at a time: at frame t the joiner scores tokens (and TDT durations); RNNT: blank -> t + 1, a token is
emitted at t and the prediction network advanced, staying on t until `max_symbols` tokens came out of it;
TDT: the best token and the best duration are chosen separately, a blank moves at least one frame, a
token moves by its duration. Scores sum the joint output log-softmaxed over its whole last dimension (as
NeMo's CPU joint does) in float32; a TDT token's confidence is normalised over the tokens alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harken.decoding.results import DecodedSequence


class GraphStep:
    """The decoder and joiner sessions behind two calls: `predict(token, state)` and `joint(frame, pred)`."""

    def __init__(self, decoder, joiner, layers: int, hidden: int, blank_id: int, durations: Sequence[int] = ()):
        self.decoder, self.joiner = decoder, joiner
        self.layers, self.hidden, self.blank_id = layers, hidden, blank_id
        self.durations = [int(d) for d in durations]
        self._dec_in = [i.name for i in decoder.get_inputs()]
        self._join_in = [i.name for i in joiner.get_inputs()]
        self._one = np.ones(1, dtype=np.int32)

    def start(self) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """The prediction for the start of an utterance (the blank with zero states)."""
        zeros = np.zeros((self.layers, 1, self.hidden), dtype=np.float32)
        return self.predict(self.blank_id, (zeros, zeros))

    def predict(self, token: int, state: tuple[np.ndarray, np.ndarray]):
        """One token -> (prediction [1, H, 1], new LSTM state)."""
        out, _, h, c = self.decoder.run(None, dict(zip(self._dec_in, (np.array([[token]], dtype=np.int32),
                                                                      self._one, *state))))
        return out, (h, c)

    def joint(self, frame: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """frame [1, C, 1], prediction [1, H, 1] -> raw logits [V + 1 + len(durations)]."""
        return self.joiner.run(None, dict(zip(self._join_in, (frame, pred))))[0].reshape(-1)


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32, copy=False)
    shifted = x - x.max()
    return shifted - np.log(np.exp(shifted).sum(dtype=np.float32))


def greedy_transducer(step: GraphStep, encoded: np.ndarray, num_frames: int, max_symbols: int | None = 10
                      ) -> DecodedSequence:
    """One utterance's encoder output [C, T] (its first `num_frames` valid) -> DecodedSequence."""
    seq = DecodedSequence([], [], [], [], 0.0, int(num_frames))
    frames = np.ascontiguousarray(encoded.T[:num_frames], dtype=np.float32)  # [T, C]: one frame is contiguous
    blank, durations = step.blank_id, step.durations
    pred, state = step.start()
    t, on_frame, score = 0, 0, np.float32(0.0)
    while t < num_frames:
        logp = log_softmax(step.joint(frames[t].reshape(1, -1, 1), pred))
        tokens = logp[: blank + 1]
        k = int(tokens.argmax())
        emit = k != blank
        if durations:
            d = durations[int(logp[blank + 1:].argmax())]
            advance = d if emit else max(d, 1)
        else:
            d, advance = 1, 0 if emit else 1
        if emit:
            on_frame += 1
            if max_symbols is not None and advance == 0 and on_frame >= max_symbols:
                advance = 1
            confidence = log_softmax(tokens)[k] if durations else logp[k]
            seq.token_ids.append(k)
            seq.frames.append(t)
            seq.durations.append(d)
            seq.token_logprobs.append(float(confidence))
            score = np.float32(score + logp[k])
            pred, state = step.predict(k, state)
        if advance > 0:
            on_frame = 0
        t += advance
    seq.score = float(score)
    return seq
