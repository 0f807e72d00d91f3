"""Word n-gram LMs (ARPA read/write, Kneser-Ney estimate) and CTC prefix beam search with LM fusion."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest

import harken
from harken.cli.main import main as cli
from harken.decoding.ctc_beam import BeamSearchDecoder
from harken.decoding.ctc_greedy import ctc_greedy_decode
from harken.decoding.ngram_lm import UNK, ArpaError, build, read_arpa, write_arpa
from harken.text.char_tokenizer import CharTokenizer
from harken.text.wordpiece_tokenizer import WordPieceTokenizer

SENTENCES = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the cat ran"]

# a hand-made model in the layout KenLM writes: back-off weights after the lower orders' words
ARPA = """some comment before the data
\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-1.0\t</s>
-99\t<s>\t-0.5
-0.7\tcat\t-0.2
-0.6\tdog\t-0.3
-2.0\t<unk>

\\2-grams:
-0.1\t<s> cat
-0.4\tcat dog
-0.2\tdog </s>

\\end\\
"""


def test_kneser_ney_distributions_sum_to_one_in_every_context():
    lm = build(SENTENCES, order=3)
    words = [w for w in lm.vocabulary() if w != "<s>"]
    assert UNK in words and "</s>" in words
    for context in [("<s>",), ("the", "cat"), ("cat", "sat"), ("never", "seen"), ("<s>", "a")]:
        assert sum(10 ** lm.log10_prob(context, w) for w in words) == pytest.approx(1.0, abs=1e-9), context
    # a seen continuation is likelier than a backed-off one
    assert lm.log10_prob(("the", "cat"), "sat") > lm.log10_prob(("the", "cat"), "log")
    assert lm.sentence_log10_prob("the cat sat on the mat".split()) > lm.sentence_log10_prob("mat the on sat".split())


def test_arpa_round_trip_keeps_every_probability(tmp_path):
    lm = build(SENTENCES, order=3)
    write_arpa(lm, tmp_path / "lm.arpa")
    again = read_arpa(tmp_path / "lm.arpa")
    assert again.order == 3 and set(again.probs) == set(lm.probs)
    for context, word in [(("the", "cat"), "sat"), (("a",), "dog"), (("zebra", "cat"), "ran"), ((), "nope")]:
        assert again.log10_prob(context, word) == pytest.approx(lm.log10_prob(context, word), abs=1e-5)


def test_reads_another_tools_arpa_and_backs_off_as_the_format_says(tmp_path):
    path = tmp_path / "lm.arpa.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(ARPA)
    lm = read_arpa(path)
    assert lm.log10_prob(["<s>"], "cat") == pytest.approx(-0.1)  # the bigram itself
    assert lm.log10_prob(["cat"], "</s>") == pytest.approx(-0.2 + -1.0)  # back-off of "cat", then the unigram
    assert lm.log10_prob(["dog"], "cat") == pytest.approx(-0.3 + -0.7)
    assert lm.log10_prob(["cat"], "zebra") == pytest.approx(-0.2 + -2.0)  # unknown word: <unk>
    assert "cat" in lm and "zebra" not in lm and lm.starts_a_word("ca") and not lm.starts_a_word("cx")


@pytest.mark.parametrize("broken, message", [
    (ARPA.replace("\\end\\\n", ""), "truncated"),
    (ARPA.replace("ngram 2=3", "ngram 2=4"), "declares 4 2-grams, the file has 3"),
    (ARPA.replace("-0.4\tcat dog", "x\tcat dog"), "lm.arpa:15: not a number"),
    (ARPA.replace("-0.4\tcat dog", "-0.4\tcat"), "lm.arpa:15: a 2-gram line needs"),
    (ARPA.replace("ngram 2=3", "ngram two"), "lm.arpa:4: expected 'ngram N=COUNT'"),
    (None, "lm.arpa: cannot read"),
])
def test_broken_arpa_files_are_refused_with_file_and_line(tmp_path, broken, message):
    if broken is not None:  # None: the file is missing
        (tmp_path / "lm.arpa").write_text(broken, encoding="utf-8")
    with pytest.raises(ArpaError, match=message):
        read_arpa(tmp_path / "lm.arpa")


def frames(*rows: dict[int, float], vocab: int) -> np.ndarray:
    """Log-probabilities from per-frame {token: probability}; the rest shared evenly."""
    out = np.empty((len(rows), vocab))
    for t, row in enumerate(rows):
        rest = (1.0 - sum(row.values())) / max(vocab - len(row), 1)
        out[t] = [math.log(row.get(i, rest)) for i in range(vocab)]
    return out


def test_beam_search_sums_alignments_where_greedy_takes_the_best_frame():
    # tokens: 0 = "a", 1 = blank. Greedy: blank, blank -> "". But "a" has three alignments (a a, a -, - a)
    # worth 0.16 + 0.24 + 0.24 = 0.64 against 0.36 for "".
    lp = frames({0: 0.4, 1: 0.6}, {0: 0.4, 1: 0.6}, vocab=2)
    import torch

    assert ctc_greedy_decode(torch.tensor(lp)[None], torch.tensor([2]), blank_id=1) == [[]]
    assert BeamSearchDecoder(["a"], blank_id=1, beam_size=4)(lp) == [0]


def test_beam_search_keeps_repeats_apart_only_across_a_blank():
    tok = CharTokenizer(list("ab "))
    blank = tok.blank_id
    lp = frames({0: 0.9}, {0: 0.9}, {blank: 0.9}, {0: 0.9}, {1: 0.9}, vocab=4)
    assert tok.decode(BeamSearchDecoder(tok.word_pieces, blank, beam_size=8)(lp)) == "aab"


def test_beam_search_makes_no_empty_words_even_where_spaces_are_likely():
    # without the rule the best path starts with a space, and with an LM a beam of spaces alone escapes every
    # word cost
    tok = CharTokenizer(list("ab "))
    blank, space = tok.blank_id, 2
    gap = {space: 0.6, blank: 0.39}  # a space is likelier than silence
    lp = frames(gap, {blank: 0.9}, gap, {0: 0.9}, gap, {blank: 0.9}, gap, {1: 0.9}, gap, vocab=4)
    lm = build(["a b", "b a"], order=2)
    for decoder in (BeamSearchDecoder(tok.word_pieces, blank), BeamSearchDecoder(tok.word_pieces, blank, lm=lm)):
        assert tok.decode(decoder(lp)) == "a b "


def test_language_model_picks_the_word_it_knows_when_the_sound_is_unsure():
    tok = CharTokenizer(list("abcdefghijklmnopqrstuvwxyz "))
    ids = {c: i for i, c in enumerate(tok.labels)}
    v, blank = tok.vocab_size + 1, tok.blank_id
    said = "the cat sat"  # the vowel of "sat" is heard as "e" a little more than as "a"
    rows = [{ids[c]: 0.9} if c != "#" else {ids["e"]: 0.5, ids["a"]: 0.45} for c in "the cat s#t"]
    lp = frames(*[r for row in rows for r in (row, {blank: 0.9})], vocab=v)
    plain = BeamSearchDecoder(tok.word_pieces, blank, beam_size=8)
    assert tok.decode(plain(lp)) == "the cat set"
    lm = build(SENTENCES, order=3)
    fused = BeamSearchDecoder(tok.word_pieces, blank, lm=lm, alpha=0.5, beta=1.0, beam_size=8)
    assert tok.decode(fused(lp)) == said


def test_word_pieces_mark_word_boundaries_for_each_kind_of_tokenizer(nemo_fixture):
    assert CharTokenizer(list("ab ")).word_pieces == ["a", "b", " "]
    assert WordPieceTokenizer(["the", "##re", "a"]).word_pieces == [" the", "re", " a"]
    bpe = harken.load(nemo_fixture("citrinet_bpe") / "model.nemo").tokenizer  # NeMo's SentencePiece model
    pieces = bpe.word_pieces
    assert len(pieces) == bpe.vocab_size and not any("▁" in piece for piece in pieces)
    ids = bpe.encode("the cat sat")
    assert "".join(pieces[i] for i in ids).strip() == bpe.decode(ids) == "the cat sat"


def test_cli_builds_an_lm_and_decodes_with_it(tmp_path, capsys):
    text = tmp_path / "books.txt"
    text.write_text("The cat sat on the mat. The dog sat on the log!\nA cat and a dog\n", encoding="utf-8")
    held_out = tmp_path / "test.json"
    held_out.write_text('{"audio_filepath": "x.wav", "duration": 1.0, "text": "A cat and a dog."}\n')
    arpa = tmp_path / "lm.arpa"
    assert cli(["lm", "build", str(text), "--order", "2", "--out", str(arpa), "--exclude", str(held_out)]) == 0
    assert "2 sentences (1 excluded)" in capsys.readouterr().out
    lm = read_arpa(arpa)
    assert lm.order == 2 and "mat" in lm and "and" not in lm
    assert cli(["lm", "build", "--out", str(arpa)]) == 1  # nothing to learn from: a message, not a traceback
    assert "give text files or --manifest" in capsys.readouterr().err
