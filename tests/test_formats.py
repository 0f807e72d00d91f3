"""Transcript output formats: subtitles parsed back with the `srt` and `webvtt-py` libraries, JSON, TSV, CTM and
output file names."""

import io
import json
import random
from datetime import timedelta
from pathlib import Path

import pytest
import srt
import webvtt

from harken.inference.formats import (
    FORMATS,
    Cue,
    format_transcript,
    output_path,
    subtitle_cues,
    write_transcript,
)
from harken.inference.results import Segment, Transcript, Word

VOCAB = ("the", "a", "speech", "model", "listens", "to", "every", "word", "and", "writes", "it", "down", "quickly",
         "without", "complaining", "about", "background", "noise", "internationalisation", "is", "hard", "ok")


def make_transcript(words: list[Word], source: str = "talks/my talk.wav") -> Transcript:
    """Segments end at sentence punctuation, like the pipeline's."""
    segments, cur = [], []
    for w in words:
        cur.append(w)
        if w.word[-1] in ".!?":
            segments.append(cur)
            cur = []
    if cur:
        segments.append(cur)
    segs = [Segment(i, ws[0].start, ws[-1].end, " ".join(w.word for w in ws), ws) for i, ws in enumerate(segments)]
    text = " ".join(s.text for s in segs)
    duration = words[-1].end + 0.5 if words else 0.0
    return Transcript(text, segs, duration, source=source, confidence=0.9)


def long_words(n: int = 300, seed: int = 0) -> list[Word]:
    """About ten minutes of speech: short gaps, some long pauses, sentence punctuation now and then."""
    rng = random.Random(seed)
    t, words = 0.4, []
    for i in range(n):
        w = rng.choice(VOCAB)
        if i % 11 == 10 or rng.random() < 0.05:
            w += rng.choice(".!?")
        elif rng.random() < 0.08:
            w += ","
        dur = rng.uniform(0.2, 1.1)
        words.append(Word(w, round(t, 3), round(t + dur, 3), round(rng.uniform(0.3, 1.0), 3)))
        t += dur + (rng.uniform(1.6, 8.0) if rng.random() < 0.12 else rng.uniform(0.0, 1.2))
    words[-1].word += "."
    return words


@pytest.fixture(scope="module")
def long_transcript() -> Transcript:
    t = make_transcript(long_words())
    assert len(t.words) == 300 and 500 < t.duration < 800  # ten minutes or so
    return t


def _secs(x) -> float:
    if isinstance(x, timedelta):
        return round(x.total_seconds(), 3)
    h, m, s = x.split(":")
    return round(int(h) * 3600 + int(m) * 60 + float(s), 3)


def parse_srt(body: str) -> list[tuple[float, float, list[str]]]:
    subs = list(srt.parse(body))
    assert [s.index for s in subs] == list(range(1, len(subs) + 1))
    return [(_secs(s.start), _secs(s.end), s.content.split("\n")) for s in subs]


read_vtt = getattr(webvtt, "from_buffer", None) or webvtt.read_buffer  # 0.6 renamed it


def parse_vtt(body: str) -> list[tuple[float, float, list[str]]]:
    assert body.startswith("WEBVTT\n\n")
    return [(_secs(c.start), _secs(c.end), c.text.split("\n")) for c in read_vtt(io.StringIO(body))]


def check_cues(cues, words: list[Word], max_chars=42, max_lines=2, max_duration=7.0, max_gap=1.5, exact=True):
    """The cue rules, on (start, end, lines) triples: limits, order, no overlap, every word once, word times."""
    assert cues
    i, prev_end = 0, 0.0
    for start, end, lines in cues:
        assert 1 <= len(lines) <= max_lines, lines
        assert all(0 < len(line) <= max_chars and line == line.strip() for line in lines), lines
        assert start < end <= start + max_duration + 1e-9
        assert start >= prev_end - 1e-9, "cues overlap or are out of order"
        prev_end = end
        tokens = " ".join(lines).split(" ")
        mine = words[i:i + len(tokens)]
        assert tokens == [w.word for w in mine], "words missing, repeated or out of order"
        for a, b in zip(mine, mine[1:]):
            assert b.start - a.end <= max_gap, "a cue spans a long pause"
        for w in mine[:-1]:  # a sentence ends a cue unless the cue was tiny then
            if w.word[-1] in ".!?":
                assert len(" ".join(x.word for x in mine[:mine.index(w) + 1])) < max_chars // 3
        if exact:
            assert start == pytest.approx(mine[0].start, abs=5e-4)
            assert end == pytest.approx(mine[-1].end, abs=5e-4)
        i += len(tokens)
    assert i == len(words), "words missing at the end"


def test_srt_of_long_transcript_follows_the_cue_rules(long_transcript):
    body = format_transcript(long_transcript, "srt")
    assert body.startswith("1\n00:00:00,400 --> ")
    cues = parse_srt(body)
    check_cues(cues, long_transcript.words)
    assert len(cues) > 30 and cues[-1][1] > 480  # many cues, the last near the end of the ten minutes
    assert any(len(lines) == 2 for _, _, lines in cues)  # two-line cues are used


def test_vtt_has_the_same_cues_as_srt(long_transcript):
    body = format_transcript(long_transcript, "vtt")
    assert "-->" in body and "," not in body.split("\n")[2]  # milliseconds after a dot
    vtt = parse_vtt(body)
    check_cues(vtt, long_transcript.words)
    assert vtt == parse_srt(format_transcript(long_transcript, "srt"))


@pytest.mark.parametrize("opts", [dict(max_chars=30, max_lines=1, max_duration=4.0),
                                  dict(max_chars=24, max_lines=3, max_duration=3.0, max_gap=0.5)])
def test_subtitle_options_are_honoured(long_transcript, opts):
    check_cues(parse_srt(format_transcript(long_transcript, "srt", **opts)), long_transcript.words, **opts)


def test_lines_are_balanced():
    words = [Word(w, i * 0.3, i * 0.3 + 0.25, 1.0) for i, w in enumerate("one two three four five six seven eight "
                                                                         "nine ten eleven twelve".split())]
    (cue,) = subtitle_cues(words)
    assert len(cue.lines) == 2 and abs(len(cue.lines[0]) - len(cue.lines[1])) <= 6
    (short,) = subtitle_cues(words[:3])
    assert short.lines == ["one two three"]


def test_word_longer_than_a_line_and_a_cue():
    long_word = "x" * 50
    words = [Word("so", 0.0, 0.4, 1.0), Word(long_word, 0.5, 1.0, 1.0), Word("yes", 1.1, 1.4, 1.0),
             Word("wellllll", 1.5, 11.5, 1.0), Word("then", 11.6, 12.0, 1.0)]
    cues = subtitle_cues(words)
    lines = [line for c in cues for line in c.lines]
    assert long_word in lines  # a line of its own
    assert all(len(line) <= 42 for line in lines if line != long_word)
    held = next(c for c in cues if c.lines == ["wellllll"])  # alone, clipped to seven seconds
    assert (held.start, held.end) == (1.5, 8.5)
    assert cues[-1].lines == ["then"] and cues[-1].start == 11.6
    check_cues([(c.start, c.end, c.lines) for c in cues], words, max_chars=len(long_word), exact=False)


def test_zero_length_and_overlapping_words():
    words = [Word("Something", 0.0, 0.5, 1.0), Word("happened.", 0.5, 1.0, 1.0),
             Word("Next", 1.0, 1.0, 1.0), Word("one", 1.0, 1.0, 1.0),  # zero length, touching the first cue
             Word("far", 5.0, 5.0, 1.0),  # zero length after a pause
             Word("late", 9.0, 9.8, 1.0), Word("overlap.", 9.7, 10.2, 1.0),
             Word("Again", 10.0, 10.4, 1.0)]  # starts before the previous word ends
    cues = subtitle_cues(words, max_chars=12)
    spans = [(c.start, c.end, c.text) for c in cues]
    assert spans[0] == (0.0, 1.0, "Something\nhappened.")
    assert spans[1] == (1.0, 1.2, "Next one")
    assert spans[2] == (5.0, 5.2, "far")
    assert spans[3][2] == "late\noverlap." and spans[3][1] == pytest.approx(10.0)  # clipped to the next start
    assert spans[4][:2] == (10.0, 10.4)
    check_cues([(c.start, c.end, c.lines) for c in cues], words, max_chars=12, exact=False)


def test_cues_never_share_a_start():
    words = [Word("Hello", 0.5, 0.5, 1.0), Word("there.", 0.5, 0.5, 1.0), Word("General", 0.5, 0.5, 1.0)]
    cues = subtitle_cues(words, max_chars=12)
    assert len(cues) == 2
    check_cues([(c.start, c.end, c.lines) for c in cues], words, max_chars=12, exact=False)


def test_segments_without_words_give_one_cue_each():
    segs = [Segment(0, 0.0, 2.5, " Hello world.", []), Segment(1, 3.0, 5.0, "Second part here.", []),
            Segment(2, 5.0, 5.0, "Blink.", [])]
    t = Transcript("Hello world. Second part here. Blink.", segs, 6.0, source="<array 0>")
    assert parse_srt(format_transcript(t, "srt")) == [
        (0.0, 2.5, ["Hello world."]), (3.0, 5.0, ["Second part here."]), (5.0, 5.2, ["Blink."])]
    assert parse_vtt(format_transcript(t, "vtt")) == parse_srt(format_transcript(t, "srt"))
    assert format_transcript(t, "ctm") == ""


def test_vtt_escapes_markup():
    t = make_transcript([Word("R&D", 0.0, 0.5, 1.0), Word("<3", 0.6, 1.0, 1.0)])
    body = format_transcript(t, "vtt")
    assert "R&amp;D &lt;3" in body
    assert format_transcript(t, "srt").split("\n")[2] == "R&D <3"


def test_txt_and_json(long_transcript):
    assert format_transcript(long_transcript, "txt") == long_transcript.text + "\n"
    d = json.loads(format_transcript(long_transcript, "json"))
    assert d["text"] == long_transcript.text
    assert len(d["segments"]) == len(long_transcript.segments) > 5
    for seg, s in zip(d["segments"], long_transcript.segments):
        assert (seg["start"], seg["end"], seg["text"]) == (s.start, s.end, s.text)
        assert [w["word"] for w in seg["words"]] == [w.word for w in s.words]
    assert [w["word"] for w in d["words"]] == [w.word for w in long_transcript.words]
    assert d["words"][0].keys() >= {"word", "start", "end", "confidence"}
    assert "é" in format_transcript(make_transcript([Word("café", 0, 1, 1)]), "json")  # not \u escaped


def test_tsv(long_transcript):
    rows = format_transcript(long_transcript, "tsv").splitlines()
    assert rows[0] == "start\tend\ttext"
    assert len(rows) == len(long_transcript.segments) + 1
    for row, s in zip(rows[1:], long_transcript.segments):
        start, end, text = row.split("\t")
        assert (int(start), int(end), text) == (round(s.start * 1000), round(s.end * 1000), s.text)


def test_ctm(long_transcript):
    lines = format_transcript(long_transcript, "ctm").splitlines()
    assert len(lines) == len(long_transcript.words)
    for line, w in zip(lines, long_transcript.words):
        utt, channel, start, dur, word, conf = line.split(" ")
        assert (utt, channel, word) == ("my_talk", "1", w.word)
        assert float(start) == pytest.approx(w.start, abs=1e-3)
        assert float(dur) == pytest.approx(w.end - w.start, abs=2e-3)
        assert float(conf) == pytest.approx(w.confidence, abs=1e-3)
        assert len(start.split(".")[1]) == 3
    t = make_transcript([Word("hi", 0.0, 0.5, 0.5)], source="<array 2>")
    assert format_transcript(t, "ctm") == "utt 1 0.000 0.500 hi 0.500\n"


def test_unknown_format_and_option(long_transcript):
    with pytest.raises(ValueError, match="txt, json, srt, vtt, tsv, ctm"):
        format_transcript(long_transcript, "docx")
    with pytest.raises(TypeError, match="max_char"):
        format_transcript(long_transcript, "srt", max_char=30)
    assert FORMATS == ("txt", "json", "srt", "vtt", "tsv", "ctm")
    assert format_transcript(long_transcript, "TXT") == format_transcript(long_transcript, "txt")


def test_output_path_is_unique_and_never_the_input(tmp_path):
    used: set[str] = set()
    out = tmp_path / "out"
    assert output_path("a/x.wav", "txt", out, used) == out / "x.txt"
    assert output_path("a/x.wav", "srt", out, used) == out / "x.srt"
    assert output_path("b/x.flac", "txt", out, used) == out / "x-1.txt"
    assert output_path("c/x.wav", "txt", out, used) == out / "x-2.txt"
    assert output_path("b/x.flac", "srt", out, used) == out / "x-1.srt"
    assert output_path("X.wav", "txt", out, used) == out / "X-3.txt"  # case-insensitive file systems
    assert output_path("<array 0>", "txt", out, used) == out / "array-0.txt"
    assert output_path("<array 1>", "txt", out, used) == out / "array-1.txt"
    assert output_path("", "json", out, set()) == out / "array-0.json"
    src = tmp_path / "notes.txt"
    src.write_text("input")
    p = output_path(str(src), "txt", tmp_path, set())
    assert p != src and p == tmp_path / "notes-1.txt"
    assert output_path("notes.txt", "txt", ".", set()).resolve() != Path("notes.txt").resolve()
    with pytest.raises(ValueError):
        output_path("a.wav", "doc", out, set())


def test_write_transcript_is_atomic(tmp_path, long_transcript):
    path = tmp_path / "sub" / "talk.srt"
    assert write_transcript(long_transcript, "srt", path, max_chars=30) == path
    assert path.read_text(encoding="utf-8") == format_transcript(long_transcript, "srt", max_chars=30)
    assert sorted(p.name for p in path.parent.iterdir()) == ["talk.srt"]  # no temporary file left


def test_cue_text():
    assert Cue(0.0, 1.0, ["a b", "c"]).text == "a b\nc"
