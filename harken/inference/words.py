"""From a decoder's tokens and frames to words and segments in seconds.

Times: a token spans its frames, [frame, frame + duration) x the model's frame shift (window stride x
subsampling); a word spans its first token's start to its last token's end, so silence between words
stays a gap. Words follow the tokenizer's boundary rule (`word_pieces`: a piece starting with a space
starts a word; a piece that is only a space ends one). Confidence is the max-probability measure: a
token's probability at its best frame; a word takes its least confident token (a word is as doubtful as
its weakest piece); the utterance the mean of its words. Max-probability needs nothing but what every
decoder already keeps (greedy, beam, transducers), unlike entropy measures that need every frame's full
distribution; `bench/RESULTS.md` shows that it ranks errors (word error rate per confidence bin).
Segments end after a word ending in `.`, `!` or `?`, at a pause of `segment_gap` seconds or more, and
before a segment would pass `max_segment` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from harken.decoding.results import DecodedSequence
from harken.inference.results import Segment, Token, Transcript, Word

SENTENCE_END = (".", "!", "?")


def tokens_of(seq: DecodedSequence, pieces: Sequence[str], frame_shift: float, offset: float = 0.0) -> list[Token]:
    return [Token(i, pieces[i], offset + f * frame_shift, offset + (f + max(d, 1)) * frame_shift,
                  math.exp(min(lp, 0.0)))
            for i, f, d, lp in zip(seq.token_ids, seq.frames, seq.durations, seq.token_logprobs)]


def words_of(tokens: list[Token]) -> list[Word]:
    words: list[Word] = []
    current: list[Token] = []

    def close():
        if current:
            text = "".join(t.text for t in current).strip()
            if text:
                words.append(Word(text, current[0].start, current[-1].end,
                                  min(t.confidence for t in current), list(current)))
            current.clear()

    for tok in tokens:
        if not tok.text.strip():  # a space token: a boundary that belongs to no word
            close()
            continue
        if tok.text[0].isspace():
            close()
        current.append(tok)
    close()
    return words


def segments_of(words: list[Word], segment_gap: float = 0.8, max_segment: float = 30.0) -> list[Segment]:
    segments: list[Segment] = []
    current: list[Word] = []

    def close():
        if current:
            segments.append(Segment(len(segments), current[0].start, current[-1].end,
                                    " ".join(w.word for w in current), list(current)))
            current.clear()

    for w in words:
        if current and (w.start - current[-1].end >= segment_gap or w.end - current[0].start > max_segment):
            close()
        current.append(w)
        if w.word.endswith(SENTENCE_END):
            close()
    close()
    return segments


def build_transcript(seq: DecodedSequence, text: str, pieces: Sequence[str], frame_shift: float, duration: float,
                     source: str = "", offset: float = 0.0, segment_gap: float = 0.8,
                     max_segment: float = 30.0) -> Transcript:
    """`text` is the tokenizer's decode of the ids (the canonical text); times are shifted by `offset`
    seconds (a manifest row's offset, so times are those of the file). Token ends are clipped to the audio."""
    tokens = tokens_of(seq, pieces, frame_shift, offset)
    end = offset + duration
    for t in tokens:
        t.end = min(t.end, max(end, t.start))
    words = words_of(tokens)
    segments = segments_of(words, segment_gap, max_segment)
    confidence = sum(w.confidence for w in words) / len(words) if words else 1.0
    return Transcript(text, segments, duration, source, confidence, tokens, seq.score)
