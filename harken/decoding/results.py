"""What every decoder returns: one `DecodedSequence` per utterance.

Token ids with the encoder frame of each, how many frames each token spans, its log-probability and
the sequence's score. Timestamps, confidence, long-audio merging and subtitles are all built from these,
so no caller needs the full [frames, vocabulary] matrix (an hour of a 1,024-piece model is ~185 MB).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class DecodedSequence:
    token_ids: list[int]
    frames: list[int]  # encoder frame at which each token starts
    durations: list[int]  # frames each token spans: CTC its run of frames, RNNT 1, TDT the predicted duration
    token_logprobs: list[float]  # log-probability of each token at its best frame (confidence comes from these)
    score: float = 0.0  # log-probability of the whole sequence under the decoder's search
    num_frames: int = 0  # valid encoder frames of the utterance
    log_probs: np.ndarray | None = field(default=None, repr=False)  # [frames, classes], only when asked

    def __post_init__(self):
        n = len(self.token_ids)
        if not len(self.frames) == len(self.durations) == len(self.token_logprobs) == n:
            raise ValueError(f"DecodedSequence: {n} tokens but {len(self.frames)} frames, "
                             f"{len(self.durations)} durations, {len(self.token_logprobs)} log-probs")

    def shifted(self, frames: int) -> DecodedSequence:
        """The same tokens `frames` later (chunks of a long recording are decoded with chunk-local frames)."""
        return DecodedSequence(list(self.token_ids), [f + frames for f in self.frames], list(self.durations),
                               list(self.token_logprobs), self.score, self.num_frames)
