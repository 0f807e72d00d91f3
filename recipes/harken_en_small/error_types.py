"""What a test set's word errors are: homophones, words a letter or two off, words run together, dropped words.

    python recipes/harken_en_small/wer_by_kind.py --model M --manifest TEST.json --by voice --out hyps.tsv
    python recipes/harken_en_small/error_types.py hyps.tsv [--voice en-us]

Why: a character model that hears a word right can still spell it wrong, and no amount of training fixes a
homophone ("write" for "right") without a language model. Splitting the WER by kind says how much of it greedy
decoding could ever win back, and how much is spelling. Homophones are pairs espeak-ng itself transcribes to
the same phonemes in the voice that spoke them (the TSV's group, from `--by voice`; or one `--voice` for all):
the West Midlands voices drop every h, so there "his" and "is" sound alike. A word lost or added next to a
misspelt one counts as words run together or split when gluing them explains the letters better.
"""

from __future__ import annotations

import argparse
from collections import Counter
from functools import cache
from pathlib import Path

from harken.metrics.wer import alignment, char_errors
from harken.synth.espeak import phonemes

KINDS = ("homophone", "one letter off", "two letters off", "other substitution", "run together or split",
         "dropped word", "extra word")


def error_runs(ref: list[str], hyp: list[str]) -> list[list[tuple]]:
    """Maximal runs of consecutive non-matching pairs, aligned so that words with the fewest letters apart pair up."""
    runs: list[list[tuple]] = [[]]
    for r, h in alignment(ref, hyp, tie_cost=lambda a, b: char_errors(a or "", b or "").errors):
        if r == h:
            runs.append([])
        else:
            runs[-1].append((r, h))
    return [run for run in runs if run]


def _letters(words) -> str:
    return "".join(w for w in words if w)


def error_groups(run: list[tuple]) -> list[list[tuple]]:
    """A run cut into the errors one would name: a block of dropped or extra words joins the substitution beside it
    when gluing them explains the letters better than a word lost or added ("to him -> tohim")."""
    both = [r is not None and h is not None for r, h in run]
    owner = list(range(len(run)))  # the group each pair belongs to, named by one of its members
    i = 0
    while i < len(run):
        if both[i]:
            i += 1
            continue
        j = i
        while j < len(run) and not both[j]:
            j += 1
        block = list(range(i, j))
        best = None
        for k in (i - 1, j):
            if 0 <= k < len(run) and both[k] and owner[k] == k:
                members = sorted([*block, k])
                glued = char_errors(_letters(run[m][0] for m in members), _letters(run[m][1] for m in members)).errors
                apart = char_errors(*run[k]).errors + sum(len(run[m][0] or run[m][1]) for m in block)
                if glued < apart and (best is None or glued - apart < best[0]):
                    best = (glued - apart, members)
        for m in best[1] if best else block:
            owner[m] = i
        i = j
    groups: dict[int, list[tuple]] = {}
    for pair, o in zip(run, owner):
        groups.setdefault(o, []).append(pair)
    return [groups[o] for o in sorted(groups, key=owner.index)]


def classify(group: list[tuple], same_sound) -> tuple[str, int, str]:
    """(kind, word errors, example) for one group of error_groups."""
    refs = " ".join(r for r, _ in group if r is not None)
    hyps = " ".join(h for _, h in group if h is not None)
    if len(group) == 1 and refs and hyps:
        distance = char_errors(refs, hyps).errors
        kind = ("homophone" if same_sound(refs, hyps) else "one letter off" if distance == 1
                else "two letters off" if distance == 2 else "other substitution")
    else:
        kind = "dropped word" if not hyps else "extra word" if not refs else "run together or split"
    return kind, len(group), f"{refs or '_'} -> {hyps or '_'}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("hyps", type=Path, help="TSV of group, reference, hypothesis (wer_by_kind.py --out)")
    p.add_argument("--voice", help="espeak-ng voice that decides what sounds the same (default: each line's group)")
    p.add_argument("--examples", type=int, default=6)
    args = p.parse_args()

    sound = cache(phonemes)

    errors: Counter[str] = Counter()
    examples: dict[str, Counter] = {kind: Counter() for kind in KINDS}
    words = 0
    for n, line in enumerate(args.hyps.read_text().splitlines(), 1):
        fields = line.split("\t")
        if len(fields) != 3:
            raise SystemExit(f"{args.hyps}:{n}: expected group<TAB>reference<TAB>hypothesis, got {line[:80]!r}")
        voice, ref, hyp = args.voice or fields[0], fields[1].split(), fields[2].split()
        words += len(ref)
        same_sound = lambda a, b, voice=voice: sound(a, voice) == sound(b, voice)  # noqa: E731
        for run in error_runs(ref, hyp):
            for group in error_groups(run):
                kind, count, example = classify(group, same_sound)
                errors[kind] += count
                examples[kind][example] += 1
    total = sum(errors.values())
    print(f"{args.hyps}: {words} reference words, {total} word errors (WER {100 * total / max(words, 1):.2f}%)\n")
    print("| kind | errors | WER points | most frequent |")
    print("|---|---|---|---|")
    for kind in KINDS:
        common = ", ".join(f"{e} ({c})" if c > 1 else e for e, c in examples[kind].most_common(args.examples))
        print(f"| {kind} | {errors[kind]} | {100 * errors[kind] / max(words, 1):.2f} | {common} |")


if __name__ == "__main__":
    main()
