"""WER of small transducer models on test manifests, per decoding head: the figures behind bench/RESULTS.md
"Small transducers on the synthetic corpus".

    python bench/small_transducers.py MODEL.nemo MANIFEST... [--heads rnnt,ctc] [--threads 2]

A checkpoint of an unfinished run becomes a .nemo with `harken average last.ckpt --out model.nemo`.
Prints one markdown row per (manifest, head): WER, CER, utterances, seconds of audio, RTFx.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import harken
from harken.metrics.evaluate import evaluate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("manifests", nargs="+")
    p.add_argument("--heads", default="rnnt,ctc", help="heads to decode with (a hybrid has both)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = harken.load(args.model)
    heads = [h for h in args.heads.split(",") if h == "rnnt" or getattr(model, "ctc_decoder", None) is not None]
    print("| model | head | test set | WER % | CER % | utterances | RTFx |")
    print("|---|---|---|---|---|---|---|")
    for head in heads:
        model.change_decoding_strategy(decoder_type=head)
        for manifest in args.manifests:
            start = time.perf_counter()
            r = evaluate(model, manifest, batch_size=args.batch_size)
            seconds = time.perf_counter() - start
            print(f"| {Path(args.model).name} | {head} | {Path(manifest).name} | {100 * r.wer:.2f} | {100 * r.cer:.2f} "
                  f"| {r.utterances} | {r.hours * 3600 / seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
