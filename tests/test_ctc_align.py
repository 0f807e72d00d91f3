"""CTC forced alignment: exact paths on synthetic log-probs, brute force on tiny cases, refusals, agreement with
greedy decoding, and word boundaries on speech whose word times are known."""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pytest

from harken.decoding.ctc_align import MAX_CELLS, AlignmentError, ctc_align
from harken.decoding.ctc_greedy import collapse, runs

BLANK = 0


def dominant(path: list[int], V: int, rng: np.random.Generator, margin: float = 4.0) -> np.ndarray:
    """Log-probs [T, V] with random noise where each frame's class in `path` is `margin` nats above the rest."""
    logits = rng.normal(size=(len(path), V))
    logits[np.arange(len(path)), path] += margin
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def frame_path(seq, T: int) -> list[int]:
    """The per-frame classes a DecodedSequence describes (blank outside token runs)."""
    out = [BLANK] * T
    for k, f, d in zip(seq.token_ids, seq.frames, seq.durations):
        out[f: f + d] = [k] * d
    return out


def path_score(lp: np.ndarray, path: list[int]) -> float:
    return float(sum(lp[t, k] for t, k in enumerate(path)))


def test_dominant_path_is_recovered_with_frames_durations_and_log_probs():
    rng = np.random.default_rng(0)
    # "abaa": the two a's at the end need the blank between them (frame 9)
    path = [0, 1, 1, 0, 2, 2, 2, 1, 1, 0, 1, 0]
    lp = dominant(path, 4, rng)
    seq = ctc_align(lp, [1, 2, 1, 1], BLANK)
    assert seq.token_ids == [1, 2, 1, 1]
    assert seq.frames == [1, 4, 7, 10]
    assert seq.durations == [2, 3, 2, 1]
    assert seq.num_frames == 12
    assert seq.score == pytest.approx(path_score(lp, path))
    assert seq.token_logprobs == pytest.approx([lp[1:3, 1].max(), lp[4:7, 2].max(), lp[7:9, 1].max(), lp[10, 1]])


def test_repeated_tokens_get_a_blank_between_even_against_the_evidence():
    # every frame says "a": the only way to spell "aa" is a, blank, a
    lp = np.log(np.array([[0.01, 0.99]] * 3))
    seq = ctc_align(lp, [1, 1], BLANK)
    assert seq.frames == [0, 2] and seq.durations == [1, 1]
    assert seq.score == pytest.approx(2 * np.log(0.99) + np.log(0.01))
    # exactly the minimum number of frames (2 tokens + 1 blank) is enough; the path ends on a token
    seq = ctc_align(np.log(np.full((3, 2), 0.5)), [1, 1], BLANK)
    assert frame_path(seq, 3) == [1, 0, 1]


def test_empty_text_is_all_blank():
    lp = np.log(np.array([[0.7, 0.3], [0.4, 0.6]]))
    seq = ctc_align(lp, [], BLANK)
    assert seq.token_ids == [] and seq.frames == [] and seq.num_frames == 2
    assert seq.score == pytest.approx(np.log(0.7 * 0.4))


def all_alignments(T: int, ids: list[int], V: int):
    """Every frame path of length T over V classes that collapses to `ids` (brute force)."""
    for path in itertools.product(range(V), repeat=T):
        if collapse(path, BLANK) == ids:
            yield list(path)


@pytest.mark.parametrize("seed", range(12))
def test_matches_brute_force_on_tiny_random_cases(seed):
    rng = np.random.default_rng(seed)
    V = 3 if seed % 2 else 4
    T = int(rng.integers(1, 8))
    U = int(rng.integers(0, 4))
    ids = rng.integers(1, V, size=U).tolist()
    if seed % 3 == 0 and U >= 2:
        ids[1] = ids[0]  # make sure repeats are covered
    lp = np.log(rng.dirichlet(np.ones(V), size=T))
    paths = list(all_alignments(T, ids, V))
    if not paths:
        with pytest.raises(AlignmentError):
            ctc_align(lp, ids, BLANK)
        return
    scores = [path_score(lp, p) for p in paths]
    best = int(np.argmax(scores))
    seq = ctc_align(lp, ids, BLANK)
    assert seq.token_ids == ids
    assert seq.score == pytest.approx(scores[best], abs=1e-9)
    assert frame_path(seq, T) == paths[best]  # random scores: the best path is unique


def test_brute_force_sweep_covers_feasible_cases():
    """The random cases above should mostly be alignable; check a fixed sweep of shapes explicitly."""
    rng = np.random.default_rng(99)
    for T, ids in [(1, [1]), (3, [1, 1]), (4, [1, 2, 1]), (5, [2, 2, 2]), (7, [1, 2, 2]), (6, [])]:
        lp = np.log(rng.dirichlet(np.ones(3), size=T))
        paths = list(all_alignments(T, ids, 3))
        scores = [path_score(lp, p) for p in paths]
        seq = ctc_align(lp, ids, BLANK)
        assert seq.score == pytest.approx(max(scores), abs=1e-9)
        assert frame_path(seq, T) == paths[int(np.argmax(scores))]


def test_refusals_have_clear_messages():
    lp = np.log(np.full((4, 3), 1 / 3))
    with pytest.raises(AlignmentError, match=r"at least 6 frames .* only 4"):
        ctc_align(lp, [1, 1, 2, 2], BLANK)  # 4 tokens + 1 blank between each repeat = 6 > 4
    with pytest.raises(AlignmentError, match="at least 3 frames .* only 2"):
        ctc_align(lp[:2], [1, 1], BLANK)
    with pytest.raises(AlignmentError, match="blank or outside"):
        ctc_align(lp, [1, 0], BLANK)
    with pytest.raises(AlignmentError, match="blank or outside"):
        ctc_align(lp, [3], BLANK)
    with pytest.raises(AlignmentError, match=r"\[frames, classes\]"):
        ctc_align(lp[None], [1], BLANK)
    assert issubclass(AlignmentError, ValueError)
    # too many cells: refused before any table is allocated (the log-probs themselves are small)
    T, U = 20_000, 10_000
    assert T * (2 * U + 1) > MAX_CELLS
    big = np.zeros((T, 2), dtype=np.float32)
    with pytest.raises(AlignmentError, match="split the audio"):
        ctc_align(big, [1] * U, BLANK)


def test_repeat_message_counts_the_blanks():
    with pytest.raises(AlignmentError) as e:
        ctc_align(np.zeros((5, 3)), [1, 1, 2, 2], BLANK)
    assert "at least 6 frames" in str(e.value) and "only 5" in str(e.value)


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_greedy_when_greedy_path_spells_the_text(seed):
    """Greedy's frame path is the best path of all; its collapse X is spelled by it, so aligning X must
    find a path exactly as good (the sum over all frames, blanks included)."""
    rng = np.random.default_rng(seed)
    T, V = 200, 12
    frames_cls = np.where(rng.random(T) < 0.6, BLANK, rng.integers(1, V, size=T))
    lp = dominant(frames_cls.tolist(), V, rng, margin=3.0).astype(np.float32)
    best, best_lp = lp.argmax(axis=1), lp.max(axis=1)
    greedy = runs(best, best_lp, BLANK)
    seq = ctc_align(lp, greedy.token_ids, BLANK)
    assert seq.score == pytest.approx(float(best_lp.astype(np.float64).sum()), abs=1e-4)
    assert seq.frames == greedy.frames and seq.durations == greedy.durations
    assert seq.token_logprobs == pytest.approx(greedy.token_logprobs)


# ---- real speech with known word boundaries -------------------------------------------------------------------

SR = 16000
WORDS = ["garden", "yellow", "rocket", "morning"]
GAPS = [0.4, 0.5, 0.3, 0.7, 0.4]  # before the first word, between words, after the last
# bench/bench_alignment.py: |error| median ~30 ms, p90 ~50 ms (starts) / ~90 ms (ends); these four words are off
# by at most 60 ms, while a wrong word order puts the moved words 300+ ms off
TOLERANCE = 0.1  # s


def trim(audio: np.ndarray, threshold_db: float = -35.0, win: int = SR // 100) -> np.ndarray:
    n = len(audio) // win
    rms = np.sqrt((audio[: n * win].reshape(n, win).astype(np.float64) ** 2).mean(axis=1) + 1e-20)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > threshold_db)
    return audio[loud[0] * win: (loud[-1] + 1) * win]


def word_times(seq, labels, frame_shift):
    words, cur = [], None
    for k, f, d in zip(seq.token_ids, seq.frames, seq.durations):
        if labels[k] == " ":
            cur = None
        elif cur is None:
            cur = [labels[k], f, f + d]
            words.append(cur)
        else:
            cur[0] += labels[k]
            cur[2] = f + d
    return [(w, a * frame_shift, b * frame_shift) for w, a, b in words]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_word_boundaries_on_separately_spoken_words():
    import torch

    import harken
    from harken.synth.espeak import speak

    pieces, truth, t = [], [], 0
    for gap, w in zip(GAPS, WORDS):
        pieces.append(np.zeros(int(gap * SR), np.float32))
        audio = trim(speak(w, "en-gb-x-gbclan+m5", speed=175, pitch=50, sample_rate=SR))  # a held-out voice
        truth.append(((t + len(pieces[-1])) / SR, (t + len(pieces[-1]) + len(audio)) / SR))
        pieces.append(audio)
        t += len(pieces[-2]) + len(audio)
    pieces.append(np.zeros(int(GAPS[-1] * SR), np.float32))
    wave = torch.from_numpy(np.concatenate(pieces))

    model = harken.load("harken/pretrained/models/harken_en_small.nemo")
    model.eval()
    with torch.inference_mode():
        log_probs, enc_len, _ = model(wave[None], torch.tensor([len(wave)]))
    lp = log_probs[0, : int(enc_len[0])].float().numpy()

    def align(words):
        seq = ctc_align(lp, model.tokenizer.encode(" ".join(words)), model.blank_id)
        return word_times(seq, model.labels, model.frame_shift)

    got = align(WORDS)
    assert [w for w, _, _ in got] == WORDS
    for (w, start, end), (t0, t1) in zip(got, truth):
        assert abs(start - t0) < TOLERANCE, (w, start, t0)
        assert abs(end - t1) < TOLERANCE, (w, end, t1)
    # the tolerance is tight enough to catch a wrong alignment: the words in another order do not fit
    # (measured: errors of 300 ms or more on the moved words)
    for order in (WORDS[::-1], WORDS[:2] + WORDS[:1:-1]):
        wrong = align(order)
        assert any(abs(a - t0) >= TOLERANCE or abs(b - t1) >= TOLERANCE
                   for (_, a, b), (t0, t1) in zip(wrong, truth)), order
