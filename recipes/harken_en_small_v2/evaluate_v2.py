"""One table: a model's greedy WER on every evaluation set of the v2 recipe, each number with its command.

    python recipes/harken_en_small_v2/evaluate_v2.py --model MODEL.nemo --sets data/harken_en_small_v2_eval \
        --n 60 --out exp/harken_en_small_v2/eval_v10.md [--baseline OTHER.nemo]

Why one table: the v1 model does well on the voices it was trained on (espeak-ng) and collapses on every other
engine, so a change can only be judged on all sets at once: held-out espeak-ng voices (must not regress), each
training engine's held-out voice, and two synthesizers never trained on (Piper joe, flite). `--n` scores the first
N utterances of each set; the subset manifests are written beside `--out` so that each row's `harken eval` command
gives its WER again. With `--baseline`, each row also gets the baseline's WER and a paired bootstrap 95% interval
of the difference (what the ship rule reads: no set worse with its interval above zero). With `--pocketsphinx`,
each row also gets the WER of pocketsphinx (PyPI, its bundled US English model, trained on real speech) on the
row's sentences: the reference line of issue #32 (its letter and digit spellings differ from ours, so only the
sentences are compared).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

import torch

import harken
from harken.cli.decoding_options import add_decoding_arguments, decoder_from_args
from harken.core.atomic import atomic_write_text
from harken.data.manifest import read_manifest, write_manifest
from harken.metrics.bootstrap import paired_bootstrap
from harken.metrics.evaluate import EvalResult, evaluate
from harken.metrics.wer import ErrorCounts, word_errors

SETS = [  # (row name, manifest under --sets): what run.sh stage 1 makes
    ("espeak-ng held-out voices, spelled", "espeak/test_spelled.json"),
    ("espeak-ng held-out voices, sentences", "espeak/test_sentences.json"),
    ("pico en-GB (held-out voice)", "pico/test_manifest.json"),
    ("kokoro jf_gongitsune (held-out voice)", "kokoro/test_manifest.json"),
    ("piper joe (synthesizer never trained on)", "piper/test_manifest.json"),
    ("flite slt/rms/awb/kal16 (never trained on)", "flite/manifest.json"),
]
_LOOP = re.compile(r"\b(\w+)( \1\b){3,}")  # a word 4+ times in a row


def looping(result: EvalResult) -> int:
    """Outputs that repeat a word 4+ times where the reference does not: a collapsed decoder's other sign."""
    return sum(1 for r in result.predictions if _LOOP.search(r["pred_text"]) and not _LOOP.search(r["text"].lower()))


def wer_of_kind(result: EvalResult, sentences: bool) -> str:
    """WER over the rows that are book sentences (or the others: spelled letters, digits, commands)."""
    total = ErrorCounts()
    for row, errors in zip(result.predictions, result.utterance_words):
        if (row.get("kind") == "sentence") == sentences:
            total += errors
    return f"{100 * total.rate:.1f}" if total.reference_length else "-"


def pocketsphinx_sentences(result: EvalResult, normalize) -> str:
    """pocketsphinx's WER on the rows that are book sentences, references normalised as harken's are."""
    from harken.audio.io import load_audio
    from harken.synth.engines.screen import Listener

    listen, total = Listener(), ErrorCounts()
    for row in result.predictions:
        if row.get("kind") == "sentence":
            total += word_errors(normalize(row["text"])[0], listen(load_audio(row["audio_filepath"], 16000)).lower())
    return f"{100 * total.rate:.1f}" if total.reference_length else "-"


def subset(manifest: Path, n: int, out: Path) -> Path:
    """The first n rows of `manifest` as a manifest of their own (absolute audio paths), at `out`."""
    entries = read_manifest(manifest)[:n] if n > 0 else read_manifest(manifest)
    return write_manifest(out, entries)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--sets", required=True, type=Path, help="the folder run.sh stage 1 filled")
    p.add_argument("--out", required=True, type=Path, help="markdown table (subset manifests go to OUT_sets/)")
    p.add_argument("--n", type=int, default=0, help="first N utterances of each set (0: all)")
    p.add_argument("--baseline", help="a second model: its WER and the paired 95%% interval of the difference")
    p.add_argument("--pocketsphinx", action="store_true", help="add pocketsphinx's WER on each set's sentences")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--overwrite", action="store_true")
    add_decoding_arguments(p)  # --lm LM --alpha A --beta B: the recipe's LM column (both models decode alike)
    args = p.parse_args()
    if args.out.exists() and not args.overwrite:
        raise SystemExit(f"evaluate_v2.py: error: {args.out} exists (--overwrite replaces it)")
    torch.set_num_threads(args.threads)
    model = harken.load(args.model)
    base = harken.load(args.baseline) if args.baseline else None
    decoding = decoder_from_args(args, model)
    base_decoding = decoder_from_args(args, base) if base is not None else None
    folder = args.out.with_name(args.out.stem + "_sets")
    folder.mkdir(parents=True, exist_ok=True)
    head = "| set | utterances | WER % | sentences WER % | spelled WER % | CER % | empty | looping |"
    if base is not None:
        head += " baseline WER % | difference (points) [95% interval] |"
    if args.pocketsphinx:
        head += " pocketsphinx sentences WER % |"
    rows = [head + " command |", "|" + "---|" * head.count("|")]
    options = "".join(f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                      if k in ("beam_size", "lm", "alpha", "beta") and decoding is not None and v is not None)
    for name, rel in SETS:
        manifest = args.sets / rel
        if not manifest.is_file():
            print(f"skipping {name}: {manifest} not made (run.sh stage 1)", file=sys.stderr)
            continue
        part = subset(manifest, args.n, folder / (rel.replace("/", "_")))
        r = evaluate(model, part, batch_size=16, decoding=decoding)
        row = (f"| {name} | {r.utterances} | {100 * r.wer:.1f} | {wer_of_kind(r, True)} | {wer_of_kind(r, False)} "
               f"| {100 * r.cer:.1f} | {r.empty_outputs} | {looping(r)} |")
        if base is not None:
            b = evaluate(base, part, batch_size=16, decoding=base_decoding)
            d = paired_bootstrap(b.utterance_words, r.utterance_words)
            row += f" {100 * b.wer:.1f} | {d.points:+.1f} [{d.low:+.1f}, {d.high:+.1f}] |"
        if args.pocketsphinx:
            row += f" {pocketsphinx_sentences(r, model.tokenizer.normalize)} |"
        rows.append(row + f" `harken eval --model {args.model} --manifest {part}{options}` |")
        print(rows[-1], flush=True)
    command = shlex.join(["python", sys.argv[0], *sys.argv[1:]])
    how = "greedy decoding" if decoding is None else "beam search" + (" with the LM" if args.lm else "")
    atomic_write_text(args.out, f"`{command}` ({how})\n\n" + "\n".join(rows) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
