"""WER by utterance kind (the `kind` field synth writes: spelled, digits, command, sentence).

    python recipes/harken_en_small/wer_by_kind.py --model M --manifest TEST.json [--out hyps.tsv] [--threads 1]

The spelled test set mixes letter-spelled names, digit strings and commands; its overall WER hides which
of them moved. `--out` keeps kind, reference and hypothesis per line for reading the errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import harken
from harken.data.manifest import read_manifest
from harken.metrics.wer import corpus_wer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--manifest", required=True, type=Path)
    p.add_argument("--out", type=Path, help="TSV of kind, reference, hypothesis")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = read_manifest(args.manifest)
    kinds = [str(r.extra.get("kind", "?")) for r in rows]
    hyps = harken.load(args.model).transcribe([r.audio_filepath for r in rows], batch_size=8)
    for kind in sorted(set(kinds)):
        idx = [i for i, k in enumerate(kinds) if k == kind]
        wer = corpus_wer([rows[i].text for i in idx], [hyps[i] for i in idx])
        print(f"{kind:10s} {len(idx):5d} utterances  WER {100 * wer:6.2f}%")
    if args.out:
        args.out.write_text("".join(f"{k}\t{r.text}\t{h}\n" for k, r, h in zip(kinds, rows, hyps)))


if __name__ == "__main__":
    main()
