"""What int8 costs in WER: a model in PyTorch, its float32 ONNX export and its int8 export (dynamic quantisation of
the weights, `harken export --quantize int8`) through harken.runtime, on the same manifests.

    .venv/bin/python bench/int8_wer.py --model M.nemo --manifests A.json B.json --work-dir $RUN_DIR/int8 [--n 300]

Why: published results show plain ONNX int8 hurting transducers badly, so the scheme harken ships is chosen by
measurement. Each row: corpus WER of each side (greedy), how many texts equal PyTorch's, and the paired bootstrap
95% interval of int8 minus float32 in WER points. Prints a markdown table (commands in bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import harken
from harken.cli.main import main as cli
from harken.data.manifest import read_manifest, write_manifest
from harken.metrics.bootstrap import paired_bootstrap
from harken.metrics.evaluate import evaluate
from harken.metrics.wer import ErrorCounts, word_errors
from harken.runtime import load_recognizer


def corpus(errors: list[ErrorCounts]) -> float:
    total = ErrorCounts()
    for e in errors:
        total += e
    return 100 * total.rate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help=".nemo (CTC or transducer)")
    p.add_argument("--manifests", nargs="+", required=True, type=Path)
    p.add_argument("--work-dir", required=True, type=Path, help="where the two exports are written")
    p.add_argument("--n", type=int, default=0, help="first N utterances of each manifest (0: all)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    exports = {"onnx float32": args.work_dir / "float32", "onnx int8": args.work_dir / "int8"}
    for name, folder in exports.items():
        if not folder.exists() and cli(["export", args.model, str(folder)]
                                       + (["--quantize", "int8"] if "int8" in name else [])) != 0:
            raise SystemExit(f"int8_wer.py: the {name} export of {args.model} failed (message above)")
    model = harken.load(args.model)
    sizes = {name: sum(f.stat().st_size for f in folder.glob("*.onnx")) / 1e6 for name, folder in exports.items()}
    lines = [f"`{Path(args.model).name}`; export sizes: "
             + ", ".join(f"{name} {size:.1f} MB" for name, size in sizes.items()), "",
             "| manifest | utterances | PyTorch WER % | onnx float32 WER % | onnx int8 WER % | texts = PyTorch "
             "(float32, int8) | int8 - float32, points [95% interval] |", "|---|---|---|---|---|---|---|"]
    for manifest in args.manifests:
        entries = read_manifest(manifest)[: args.n or None]
        subset = args.work_dir / f"{manifest.stem}.json"
        write_manifest(subset, entries)
        torch_rows = evaluate(model, subset).predictions
        refs = [model.tokenizer.normalize(e.text)[0] for e in entries]
        errors = {"PyTorch": [word_errors(r, row["pred_text"]) for r, row in zip(refs, torch_rows)]}
        same = {}
        for name, folder in exports.items():
            recognizer = load_recognizer(folder)
            texts = [t.text for t in recognizer.transcribe([e.audio_filepath for e in entries])]
            errors[name] = [word_errors(r, t) for r, t in zip(refs, texts)]
            same[name] = sum(t == row["pred_text"] for t, row in zip(texts, torch_rows))
        diff = paired_bootstrap(errors["onnx float32"], errors["onnx int8"])
        wers = " | ".join(f"{corpus(e):.2f}" for e in errors.values())
        interval = f"{diff.points:+.2f} [{diff.low:+.2f}, {diff.high:+.2f}]"
        lines.append(f"| {manifest.name} | {len(entries)} | {wers} | {same['onnx float32']}, {same['onnx int8']} "
                     f"| {interval} |")
        print(lines[-1], flush=True)
    print(f"\n`python bench/int8_wer.py {' '.join(sys.argv[1:])}`\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
