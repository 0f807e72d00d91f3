"""Word-boundary accuracy of CTC forced alignment (and of greedy decoding's word times) against known truth.

    .venv/bin/python bench/bench_alignment.py [--model M] [--seed 0] [--threshold-db -35]

Truth: each word is synthesised on its own by espeak-ng, trimmed to its first and last 10 ms window whose RMS
is within `--threshold-db` of the word's loudest window, and the pieces are joined with random silences
(0.1-0.8 s, and before the first / after the last word), so every word's start and end sample is known.
The known text is force-aligned with `ctc_align`; a word runs from its first character's first frame to the
end of its last character's run (x the model's frame shift). Greedy word times are read the same way from
the greedy path; its words are matched to the reference by a word-level longest common subsequence and only
correctly spelt matched words are scored (greedy often drops the space across a pause, merging words).
Prints median and 90th-percentile absolute start / end errors (ms), the median signed error (+ = late) and a
markdown table row.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from difflib import SequenceMatcher

import numpy as np
import torch

import harken
from harken.decoding.ctc_align import ctc_align
from harken.decoding.ctc_greedy import ctc_greedy_batch
from harken.synth.espeak import speak

SR = 16000
WORDS = ("morning garden river simple yellow window basket planet quiet number seven bright market "
         "silver dinner orange travel winter paper kitchen forest button letter summer happy doctor "
         "family music pocket rabbit little candle island jacket monkey people shadow storm thunder "
         "valley wagon zebra animal bottle castle dragon engine finger guitar hammer ladder mirror "
         "needle ocean pencil rocket sugar tiger violin wallet").split()
# Alternating: accents and variants the shipped model trained on, and the held-out test ones of harken.synth.corpus.
VOICES = ("en-us", "en-gb-x-gbclan+m5", "en-gb+f3", "en-gb-x-gbcwmd+f4", "en-gb-scotland+m3", "en-gb-x-gbclan+klatt3",
          "en-us-nyc", "en-gb-x-gbcwmd+m6")
HELD_OUT = {"en-gb-x-gbclan+m5", "en-gb-x-gbcwmd+f4", "en-gb-x-gbclan+klatt3", "en-gb-x-gbcwmd+m6"}


def trim(audio: np.ndarray, threshold_db: float, win: int = SR // 100) -> np.ndarray:
    """Cut leading and trailing windows whose RMS is more than `threshold_db` below the loudest window's."""
    n = len(audio) // win
    rms = np.sqrt((audio[: n * win].reshape(n, win).astype(np.float64) ** 2).mean(axis=1) + 1e-20)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > threshold_db)
    return audio[loud[0] * win: (loud[-1] + 1) * win]


def build(words: list[str], voice: str, gaps: list[float], threshold_db: float):
    """Joined waveform and the true (start, end) seconds of each word; gaps has len(words) + 1 silences."""
    pieces, truth, t = [], [], 0
    for i, w in enumerate(words):
        pieces.append(np.zeros(int(round(gaps[i] * SR)), np.float32))
        t += len(pieces[-1])
        a = trim(speak(w, voice, speed=175, pitch=50, sample_rate=SR), threshold_db)
        truth.append((t / SR, (t + len(a)) / SR))
        pieces.append(a)
        t += len(a)
    pieces.append(np.zeros(int(round(gaps[-1] * SR)), np.float32))
    return np.concatenate(pieces), truth


def word_times(seq, labels, frame_shift: float) -> list[tuple[str, float, float]]:
    """(word, start s, end s) for each run of non-space tokens of a DecodedSequence."""
    out, cur = [], None
    for k, f, d in zip(seq.token_ids, seq.frames, seq.durations):
        if labels[k] == " ":
            cur = None
            continue
        if cur is None:
            cur = [labels[k], f, f + d]
            out.append(cur)
        else:
            cur[0] += labels[k]
            cur[2] = f + d
    return [(w, a * frame_shift, b * frame_shift) for w, a, b in out]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="harken/pretrained/models/harken_en_small.nemo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threshold-db", type=float, default=-35.0)
    p.add_argument("--show", action="store_true", help="print every word's truth and estimates")
    args = p.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(args.seed)
    words = list(WORDS)
    rng.shuffle(words)
    groups, i = [], 0
    while i < len(words):  # files of 4-8 words
        rest, n = len(words) - i, int(rng.integers(4, 9))
        n = rest if rest <= 8 else min(n, rest - 4)
        groups.append(words[i: i + n])
        i += n

    model = harken.load(args.model)
    model.eval()
    labels, blank, shift = model.labels, model.blank_id, model.frame_shift
    err = {"align": ([], []), "align, held-out voices": ([], []), "greedy": ([], [])}
    n_greedy_words, audio_s, align_s = 0, 0.0, 0.0
    for g, ws in enumerate(groups):
        voice = VOICES[g % len(VOICES)]
        gaps = rng.uniform(0.1, 0.8, len(ws) + 1).tolist()
        wave, truth = build(ws, voice, gaps, args.threshold_db)
        audio_s += len(wave) / SR
        with torch.inference_mode():
            lp, n, _ = model(torch.from_numpy(wave)[None], torch.tensor([len(wave)]))
        lp_np = lp[0, : int(n[0])].float().numpy()
        text = " ".join(ws)
        t0 = time.perf_counter()
        seq = ctc_align(lp_np, model.tokenizer.encode(text), blank)
        align_s += time.perf_counter() - t0
        aligned = word_times(seq, labels, shift)
        assert [w for w, _, _ in aligned] == ws, (aligned, ws)
        greedy = word_times(ctc_greedy_batch(lp, n, blank)[0], labels, shift)
        match = {}  # reference position -> greedy word with the same spelling (word-level LCS)
        for m in SequenceMatcher(None, ws, [x[0] for x in greedy], autojunk=False).get_matching_blocks():
            match.update({m.a + k: greedy[m.b + k] for k in range(m.size)})
        for j, (w, (ts, te)) in enumerate(zip(ws, truth)):
            _, a, b = aligned[j]
            err["align"][0].append(a - ts)
            err["align"][1].append(b - te)
            if voice in HELD_OUT:
                err["align, held-out voices"][0].append(a - ts)
                err["align, held-out voices"][1].append(b - te)
            gw = match.get(j)
            if gw is not None:
                n_greedy_words += 1
                err["greedy"][0].append(gw[1] - ts)
                err["greedy"][1].append(gw[2] - te)
            if args.show:
                gs = f"{gw[1]:.2f}-{gw[2]:.2f}" if gw else "-"
                print(f"  {voice:22s} {w:10s} true {ts:6.2f}-{te:6.2f}  align {a:6.2f}-{b:6.2f}  greedy {gs}")
        print(f"file {g}: {voice}, {len(ws)} words, {len(wave) / SR:.1f} s, greedy: {' '.join(x[0] for x in greedy)}")

    def stats(v):
        ms = 1000 * np.abs(v)
        return f"{np.median(ms):.0f} / {np.percentile(ms, 90):.0f}"

    def bias(v):
        return f"{1000 * np.median(v):+.0f}"

    n_words = len(err["align"][0])
    print(f"{len(groups)} files, {n_words} words, {audio_s:.1f} s of audio; alignment took {align_s:.2f} s")
    for name, (s_err, e_err) in err.items():
        if s_err:
            print(f"{name} ({len(s_err)} words): |error| median / p90 start {stats(s_err)} ms, end {stats(e_err)} ms; "
                  f"median signed error start {bias(s_err)} ms, end {bias(e_err)} ms")
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    g_start = stats(err["greedy"][0]) if n_greedy_words else "-"
    g_end = stats(err["greedy"][1]) if n_greedy_words else "-"
    print("| date | model | truth threshold | files / words (audio) | align start | align end | greedy words "
          "| greedy start | greedy end |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {date} | {args.model.split('/')[-1]} | {args.threshold_db:g} dB | {len(groups)} / {n_words} "
          f"({audio_s:.0f} s) | "
          f"{stats(err['align'][0])} | {stats(err['align'][1])} | {n_greedy_words} | {g_start} | {g_end} |")


if __name__ == "__main__":
    main()
