"""Grid-search the LM weight (alpha) and word bonus (beta) of beam search on a validation manifest.

    python recipes/harken_en_small/tune_lm.py --model M --lm lm.arpa --manifests val.json [val2.json] \
        [--beam-size 16] [--out best.txt]

The acoustic model runs once; each (alpha, beta) pair only re-decodes its log-probabilities. Prints a WER
table and the best pair over the manifests pooled; `--out` writes that pair as options ("--alpha A --beta B")
for `harken eval` and `evaluate_all.py`. Tune on validation data, never on the test sets the results report.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import torch

import harken
from harken.core.atomic import atomic_write_text
from harken.data.manifest import read_manifest
from harken.decoding.ctc_beam import BeamSearchDecoder
from harken.decoding.ngram_lm import read_arpa
from harken.metrics.wer import corpus_word_errors


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--lm", required=True)
    p.add_argument("--manifests", nargs="+", required=True)
    p.add_argument("--beam-size", type=int, default=16)
    p.add_argument("--alphas", type=float, nargs="+", default=[0.3, 0.5, 0.7, 1.0])
    p.add_argument("--betas", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0])
    p.add_argument("--out", type=Path, help="write the best pair here as command-line options")
    args = p.parse_args()
    torch.set_num_threads(2)
    model = harken.from_pretrained(args.model)
    entries = [e for m in args.manifests for e in read_manifest(m)]
    hyps = model.transcribe([e.audio_filepath for e in entries], return_hypotheses=True, progress=True)
    refs = [model.tokenizer.normalize(e.text)[0] for e in entries]
    greedy = corpus_word_errors(refs, [h.text for h in hyps])
    print(f"greedy: WER {100 * greedy.rate:.2f}% ({greedy.errors}/{greedy.reference_length})")
    lm = read_arpa(args.lm)  # read once for the whole grid
    results = {}
    for alpha, beta in itertools.product(args.alphas, args.betas):
        decode = BeamSearchDecoder.for_model(model, lm=lm, alpha=alpha, beta=beta, beam_size=args.beam_size)
        counts = corpus_word_errors(refs, [model.tokenizer.decode(decode(h.log_probs)) for h in hyps])
        results[alpha, beta] = counts
        print(f"alpha {alpha:4.2f} beta {beta:4.2f}: WER {100 * counts.rate:.2f}% "
              f"({counts.substitutions} sub, {counts.deletions} del, {counts.insertions} ins)", flush=True)
    (alpha, beta), best = min(results.items(), key=lambda kv: kv[1].rate)
    print(f"best: --alpha {alpha} --beta {beta}: WER {100 * best.rate:.2f}%")
    if args.out:
        atomic_write_text(args.out, f"--alpha {alpha} --beta {beta}\n")


if __name__ == "__main__":
    main()
