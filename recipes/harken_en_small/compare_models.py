"""Two models on the same test manifests, with a paired bootstrap 95% interval for each WER difference.

    python recipes/harken_en_small/compare_models.py --baseline A.nemo --candidate B.nemo --manifests T1.json T2.json

Why: the held-out sets have about 2,500 words each, so a difference of ten words may be chance; the interval
(harken.metrics.bootstrap) says whether the set can tell the two models apart.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from harken.metrics.bootstrap import paired_bootstrap
from harken.metrics.evaluate import evaluate
from harken.models.loading import load_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", required=True, type=Path)
    p.add_argument("--candidate", required=True, type=Path)
    p.add_argument("--manifests", nargs="+", required=True, type=Path)
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    base, cand = load_model(args.baseline), load_model(args.candidate)
    print("| manifest | baseline WER % | candidate WER % | difference (points) | 95% interval | resamples worse |")
    print("|---|---|---|---|---|---|")
    for manifest in args.manifests:
        a, b = evaluate(base, manifest), evaluate(cand, manifest)
        d = paired_bootstrap(a.utterance_words, b.utterance_words, args.resamples)
        print(f"| {manifest} | {100 * a.wer:.2f} | {100 * b.wer:.2f} | {d.points:+.2f} | [{d.low:+.2f}, {d.high:+.2f}]"
              f" | {100 * d.share_worse:.1f}% |")


if __name__ == "__main__":
    main()
