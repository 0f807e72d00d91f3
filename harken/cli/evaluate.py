"""harken eval --manifest test.json [--model M] [--output predictions.json] [--beam-size N --lm LM]

Without --model, the English model shipped with harken (`harken_en_small`) is measured, as in `transcribe`.
"""

from __future__ import annotations

import argparse

from harken.cli.decoding_options import add_decoding_arguments, decoder_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help=".nemo file, catalog name or URL (default: the shipped model)")
    p.add_argument("--manifest", required=True, help="JSON-lines manifest with reference text")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--output", help="write a predictions manifest (adds pred_text and per-utterance wer)")
    p.add_argument("--device", default="cpu")
    add_decoding_arguments(p)


def run(args: argparse.Namespace) -> int:
    import harken
    from harken.data.manifest import write_manifest
    from harken.metrics.evaluate import evaluate
    from harken.pretrained.catalog import DEFAULT_MODEL

    model = harken.from_pretrained(args.model or DEFAULT_MODEL, map_location=args.device, progress=False)
    result = evaluate(model, args.manifest, batch_size=args.batch_size, progress=True,
                      decoder=decoder_from_args(args, model))
    if args.output:
        write_manifest(args.output, result.predictions)
    print(result.table())
    return 0
