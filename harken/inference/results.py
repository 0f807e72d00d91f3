"""The typed results of transcription, in seconds, each with `to_dict()`.

`Transcript.to_dict()` has the shape of OpenAI's `verbose_json` (`text`, `duration`, `segments` with
`id`/`start`/`end`/`text`/`words`, and `words`), so clients written for it read harken's JSON as it is.
Confidence is in [0, 1]: the probability the model gave each token at its best frame (see words.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _r(x: float) -> float:
    return round(float(x), 3)


@dataclass
class Token:
    id: int
    text: str  # the token's text, a leading space where it starts a word
    start: float
    end: float
    confidence: float

    def to_dict(self) -> dict:
        return {"id": self.id, "text": self.text, "start": _r(self.start), "end": _r(self.end),
                "confidence": _r(self.confidence)}


@dataclass
class Word:
    word: str
    start: float
    end: float
    confidence: float
    tokens: list[Token] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        return self.word

    def to_dict(self) -> dict:
        return {"word": self.word, "start": _r(self.start), "end": _r(self.end), "confidence": _r(self.confidence)}


@dataclass
class Segment:
    id: int
    start: float
    end: float
    text: str
    words: list[Word]

    @property
    def confidence(self) -> float:
        return min((w.confidence for w in self.words), default=1.0)

    def to_dict(self) -> dict:
        return {"id": self.id, "start": _r(self.start), "end": _r(self.end), "text": self.text,
                "confidence": _r(self.confidence), "words": [w.to_dict() for w in self.words]}


@dataclass
class Transcript:
    text: str
    segments: list[Segment]
    duration: float  # seconds of audio transcribed
    source: str = ""  # file path, or "<array N>" for in-memory audio
    confidence: float = 1.0  # the utterance's: the mean of its words' (1.0 when nothing was said)
    tokens: list[Token] = field(default_factory=list, repr=False)
    score: float = 0.0  # the decoder's log-probability of the text

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    def to_dict(self) -> dict:
        return {"text": self.text, "duration": _r(self.duration), "source": self.source,
                "confidence": _r(self.confidence), "segments": [s.to_dict() for s in self.segments],
                "words": [w.to_dict() for w in self.words]}


@dataclass
class SpeechSpan:
    """A labelled stretch of audio: VAD speech segments, keyword spots."""

    start: float
    end: float
    label: str
    score: float

    def to_dict(self) -> dict:
        return {"start": _r(self.start), "end": _r(self.end), "label": self.label, "score": _r(self.score)}


@dataclass
class Hypothesis:
    """One transcription as NeMo's `Hypothesis` has it: `text`, `y_sequence` (token ids), `score`, and with
    `timestamps=True` the `timestamp` dict NeMo gives. `log_probs` [frames, vocabulary + blank] is kept
    because it was asked for (`return_hypotheses=True`), e.g. to tune beam search without re-running."""

    text: str
    y_sequence: list[int]
    score: float
    log_probs: Any  # torch.Tensor or None
    frame_shift: float
    timestamp: dict | None = None
    transcript: Any = None  # the pipeline's Transcript (words, segments, confidence)

    @property
    def tokens(self) -> list[int]:
        return self.y_sequence
