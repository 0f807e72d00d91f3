import random

import pytest
import torch

from harken.decoding.ctc_greedy import collapse, ctc_greedy_decode
from harken.metrics.wer import align_counts, alignment, char_errors, corpus_cer, corpus_wer, word_errors

B = 4  # blank id in these cases


@pytest.mark.parametrize(
    "frames, expected",
    [
        ([0, 0, 1, 1, 1], [0, 1]),  # repeats collapse
        ([0, B, 0], [0, 0]),  # a blank separates a real repeat
        ([B, B, B], []),  # all blank
        ([], []),
        ([2, B, B, 2, 2, B, 3], [2, 2, 3]),
        ([1, 2, 1, 2], [1, 2, 1, 2]),
        ([B, 3, B], [3]),
    ],
)
def test_collapse(frames, expected):
    assert collapse(frames, B) == expected


def test_greedy_decode_honours_lengths():
    # two rows; row 1 is only 2 frames long, so its padded frames (which argmax to 3) are ignored
    ids = torch.tensor([[0, 0, B, 1, 3], [2, 2, 3, 3, 3]])
    log_probs = torch.nn.functional.one_hot(ids, 5).float().log_softmax(-1)
    assert ctc_greedy_decode(log_probs, torch.tensor([5, 2]), B) == [[0, 1, 3], [2]]


def test_word_errors_counts_kinds():
    e = word_errors("the cat sat on the mat", "the cat sit on mat today")
    assert (e.substitutions, e.deletions, e.insertions, e.reference_length) == (1, 1, 1, 6)
    assert e.rate == pytest.approx(3 / 6)


def test_alignment_spells_out_the_edits_align_counts_counts():
    ref, hyp = "the cat sat on the mat".split(), "the cat sit on mat today".split()
    pairs = alignment(ref, hyp)
    assert pairs == [("the", "the"), ("cat", "cat"), ("sat", "sit"), ("on", "on"), ("the", None), ("mat", "mat"),
                     (None, "today")]
    letters_apart = lambda a, b: char_errors(a or "", b or "").errors  # noqa: E731
    assert alignment(["to", "him", "now"], ["tohim", "no"], tie_cost=letters_apart) == [
        ("to", None), ("him", "tohim"), ("now", "no")]  # not ("him", "no"): same edits, more letters apart
    rng = random.Random(0)
    for _ in range(200):  # random short strings: same number of edits, and each side read back in order
        r = [rng.choice("ab") for _ in range(rng.randrange(6))]
        h = [rng.choice("abc") for _ in range(rng.randrange(6))]
        pairs = alignment(r, h)
        assert [a for a, _ in pairs if a is not None] == r and [b for _, b in pairs if b is not None] == h
        assert sum(a != b for a, b in pairs) == align_counts(r, h).errors
        assert sum(a != b for a, b in alignment(r, h, tie_cost=letters_apart)) == align_counts(r, h).errors


def test_corpus_rates_are_total_edits_over_total_words():
    refs = ["a b c d", "e"]
    hyps = ["a b c d", "f g"]
    # per-utterance average would be (0 + 2)/2 = 1.0; corpus level is 2/5
    assert corpus_wer(refs, hyps) == pytest.approx(2 / 5)
    assert corpus_cer(["abc"], ["abd"]) == pytest.approx(1 / 3)
    assert char_errors("a  b", "a b").errors == 0  # whitespace runs do not count
    with pytest.raises(ValueError):
        corpus_wer(["a"], [])


def test_empty_outputs_count_silence_where_words_were_said():
    from harken.metrics.evaluate import EvalResult

    rows = [("no", ""), ("go on", "  "), ("yes", "yes"), ("", "")]  # an empty reference said nothing: not counted
    result = EvalResult("m.json", len(rows), 0.0, predictions=[{"text": t, "pred_text": h} for t, h in rows])
    assert result.empty_outputs == 2


def test_paired_bootstrap_tells_a_real_difference_from_chance():
    from harken.metrics.bootstrap import paired_bootstrap

    refs = [f"the cat sat on mat number {i}" for i in range(60)]
    base = [word_errors(r, r.replace("cat", "cap")) for r in refs]  # one error in each utterance
    same = paired_bootstrap(base, base)
    assert (same.points, same.low, same.high, same.share_worse) == (0.0, 0.0, 0.0, 0.0)
    better = paired_bootstrap(base, [word_errors(r, r) for r in refs])  # B fixes every error
    assert better.points == pytest.approx(-100 / 7) and better.high < 0 and better.share_worse == 0.0
    # B trades errors: right where A was wrong on half the utterances, wrong elsewhere -> no real difference
    swapped = [word_errors(r, r) if i % 2 else word_errors(r, r.replace("sat", "set")) for i, r in enumerate(refs)]
    mixed = paired_bootstrap([word_errors(r, r) if i % 2 == 0 else base[i] for i, r in enumerate(refs)], swapped)
    assert mixed.points == 0.0 and mixed.low < 0 < mixed.high
    with pytest.raises(ValueError, match="same non-zero number"):
        paired_bootstrap(base, base[:-1])
