"""Phase B: mix the shipped model's weights with phase A's (WiSE-FT) and choose the mix on development sets only.

    python recipes/harken_en_small_v2/choose_mix.py --base harken/pretrained/models/harken_en_small.nemo \
        --tuned EXP/phaseA/selected.nemo --alphas 0 0.2 0.3 0.4 0.5 0.6 0.7 0.8 1 \
        --espeak-dev DEV/espeak/test_spelled.json DEV/espeak/test_sentences.json --dev DEV/piper/test_manifest.json \
        --out EXP/phaseB/selected.nemo --table EXP/phaseB/mixes.md

Why: phase A learned other engines' voices but lost 2-6.5 points on held-out espeak-ng voices. Phase A started from
the shipped model (v10), so the two sit in one basin, and a weighted mean of their weights, (1 - alpha) * v10 +
alpha * phase A, often keeps what each is good at (Wortsman et al. 2022, "Robust fine-tuning of zero-shot
models"). The rule, fixed before any number was seen: among the alphas whose espeak-ng development WER (spelled and
sentences, each) is within 1.0 point of v10's, the one with the lowest WER on the unseen-synthesizer development
set (Piper joe, new texts); ties go to the smaller alpha. The test sets are not read here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from harken.core.atomic import atomic_write_text
from harken.metrics.evaluate import evaluate
from harken.models.loading import load_model
from harken.training.averaging import architecture, mixed_state

MARGIN = 1.0  # espeak-ng development WER points a mix may lose against v10 (the regression limit)


def allowed_and_chosen(rows: list[tuple[float, list[float], float]]) -> tuple[list[float], float]:
    """The rule on (alpha, espeak-ng dev WERs, unseen-synthesizer dev WER) rows: the alphas within MARGIN of
    alpha 0 on every espeak-ng set, and among them the one with the lowest unseen-synthesizer WER (ties: smaller)."""
    base = next((r for r in rows if r[0] == 0.0), None)
    if base is None:
        raise ValueError("choose_mix: include alpha 0 (v10 itself): the espeak-ng limit is measured against it")
    allowed = [r for r in rows if all(w <= b + MARGIN for w, b in zip(r[1], base[1]))]
    return [r[0] for r in allowed], min(allowed, key=lambda r: (round(r[2], 6), r[0]))[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the model phase A started from (v10)")
    p.add_argument("--tuned", required=True, help="phase A's chosen model")
    p.add_argument("--alphas", type=float, nargs="+", required=True, help="shares of the tuned model to try")
    p.add_argument("--espeak-dev", type=Path, nargs="+", required=True,
                   help="held-out espeak-ng development manifests (each must stay within 1 point of v10)")
    p.add_argument("--dev", type=Path, required=True, help="the unseen-synthesizer development manifest")
    p.add_argument("--out", required=True, type=Path, help="the chosen mix (.nemo)")
    p.add_argument("--table", required=True, type=Path, help="markdown table of every mix's development WER")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model, tuned = load_model(args.base), load_model(args.tuned)
    if architecture(model) != architecture(tuned):
        raise SystemExit(f"choose_mix: {args.tuned} is not the same model as {args.base}")
    states = [{k: v.clone() for k, v in model.state_dict().items()}, tuned.state_dict()]
    rows = []
    for alpha in args.alphas:
        model.load_state_dict(mixed_state(states, [1.0 - alpha, alpha]))
        espeak = [evaluate(model, m) for m in args.espeak_dev]
        dev = evaluate(model, args.dev)
        rows.append((alpha, [100 * r.words.rate for r in espeak], 100 * dev.words.rate,
                     sum(r.empty_outputs for r in [*espeak, dev])))
        print(f"alpha {alpha:g}: espeak-ng dev " + ", ".join(f"{w:.2f}%" for w in rows[-1][1])
              + f"; {args.dev.parent.name} dev {rows[-1][2]:.2f}%; empty {rows[-1][3]}", flush=True)
    allowed, chosen = allowed_and_chosen([r[:3] for r in rows])
    model.load_state_dict(mixed_state(states, [1.0 - chosen, chosen]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    names = [m.stem for m in args.espeak_dev]
    lines = ["| alpha (share of phase A) | " + " | ".join(f"espeak-ng dev {n} WER %" for n in names)
             + f" | {args.dev.parent.name} dev WER % | empty | within {MARGIN:g} point of v10 on espeak-ng |",
             "|---" * (len(names) + 4) + "|"]
    for alpha, espeak, dev, empty in rows:
        mark = "**chosen**" if alpha == chosen else ("yes" if alpha in allowed else "no")
        lines.append(f"| {alpha:g} | " + " | ".join(f"{w:.2f}" for w in espeak) + f" | {dev:.2f} | {empty} | {mark} |")
    atomic_write_text(args.table, "\n".join(lines) + "\n")
    print(f"chose alpha {chosen:g} -> {args.out}; table: {args.table}")


if __name__ == "__main__":
    main()
