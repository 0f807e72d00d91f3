"""Decoding speed on real model outputs: greedy vs beam search vs beam search with an n-gram LM.

    .venv/bin/python bench/bench_decoding.py --model M --manifest test.json --lm lm.arpa [--n 100]
        [--beam-size 16] [--alpha 0.3 --beta 0.0] [--table bench/RESULTS.md]

The acoustic model runs once; each decoder is timed alone over the same log-probabilities (one thread,
pure Python for the beam), as seconds of audio decoded per second. Appends a row with the exact command.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

import harken
from harken.data.manifest import read_manifest
from harken.decoding.ctc_beam import BeamSearchDecoder
from harken.decoding.ctc_greedy import ctc_greedy_decode
from harken.decoding.ngram_lm import read_arpa

HEADER = "| date | model | utterances (audio) | greedy | beam | beam + LM | command |\n|---|---|---|---|---|---|---|\n"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--lm", required=True)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--beam-size", type=int, default=16)
    p.add_argument("--alpha", type=float, default=0.3)
    p.add_argument("--beta", type=float, default=0.0)
    p.add_argument("--table", default=str(Path(__file__).parent / "RESULTS.md"))
    args = p.parse_args()
    torch.set_num_threads(1)
    model = harken.load(args.model)
    entries = read_manifest(args.manifest)[: args.n]
    hyps = model.transcribe([e.audio_filepath for e in entries], return_hypotheses=True)
    audio = sum(e.duration for e in entries)
    lm = read_arpa(args.lm)
    decoders = {
        "greedy": lambda lp: ctc_greedy_decode(lp[None], torch.tensor([len(lp)]), model.blank_id)[0],
        "beam": BeamSearchDecoder.for_model(model, beam_size=args.beam_size),
        "beam + LM": BeamSearchDecoder.for_model(model, lm=lm, alpha=args.alpha, beta=args.beta,
                                                 beam_size=args.beam_size),
    }
    rates = {}
    for name, decode in decoders.items():
        start = time.perf_counter()
        for h in hyps:
            decode(h.log_probs)
        rates[name] = audio / (time.perf_counter() - start)
        print(f"{name:10s} {rates[name]:9.1f} audio-s/s", flush=True)
    command = "python " + " ".join(["bench/bench_decoding.py", *sys.argv[1:]])
    row = (f"| {datetime.now(timezone.utc):%Y-%m-%d} | {Path(args.model).name} | {len(entries)} ({audio:.0f} s) | "
           + " | ".join(f"{v:.0f}x" for v in rates.values()) + f" | `{command}` |\n")
    table = Path(args.table)
    text = table.read_text() if table.exists() else ""
    if HEADER not in text:
        text += "\n## Decoding speed (one thread, audio-s per s of decoding alone)\n\n" + HEADER
    rows = text.splitlines(keepends=True)
    end = rows.index(HEADER.splitlines(keepends=True)[0]) + 1  # the table's |---| line
    while end + 1 < len(rows) and rows[end + 1].startswith("|"):
        end += 1
    rows.insert(end + 1, row)  # at the end of this table, before any later section
    table.write_text("".join(rows))
    print(f"added to {table}")


if __name__ == "__main__":
    main()
