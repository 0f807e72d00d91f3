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
from harken.decoding.ctc_beam import BeamSearchDecoder, token_pieces
from harken.decoding.ngram_lm import read_arpa
from harken.metrics.wer import ErrorCounts, word_errors


def total(counts) -> ErrorCounts:
    out = ErrorCounts()
    for c in counts:
        out += c
    return out


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
    greedy = total(word_errors(r, h.text) for r, h in zip(refs, hyps))
    print(f"greedy: WER {100 * greedy.rate:.2f}% ({greedy.errors}/{greedy.reference_length})")
    lm, pieces = read_arpa(args.lm), token_pieces(model.tokenizer)
    results = {}
    for alpha, beta in itertools.product(args.alphas, args.betas):
        decode = BeamSearchDecoder(pieces, model.blank_id, lm=lm, alpha=alpha, beta=beta, beam_size=args.beam_size)
        counts = total(word_errors(r, model.tokenizer.decode(decode(h.log_probs))) for r, h in zip(refs, hyps))
        results[alpha, beta] = counts
        print(f"alpha {alpha:4.2f} beta {beta:4.2f}: WER {100 * counts.rate:.2f}% "
              f"({counts.substitutions} sub, {counts.deletions} del, {counts.insertions} ins)", flush=True)
    (alpha, beta), best = min(results.items(), key=lambda kv: kv[1].rate)
    print(f"best: --alpha {alpha} --beta {beta}: WER {100 * best.rate:.2f}%")
    if args.out:
        atomic_write_text(args.out, f"--alpha {alpha} --beta {beta}\n")


if __name__ == "__main__":
    main()
