"""harken transcribe FILES... | --manifest M  [--model M] [--batch-size N] [--output F] [--beam-size N --lm LM]

Without --model, the English model shipped with harken (`harken_en_small`) is used.
"""

from __future__ import annotations

import argparse
import json
import sys

from harken.cli.decoding_options import add_decoding_arguments, decoder_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", help="audio files (wav, flac, ogg, mp3 where libsndfile can)")
    p.add_argument("--manifest", help="transcribe every audio_filepath of a manifest instead")
    p.add_argument("--model", default=None,
                   help=".nemo file, catalog name or URL (default: harken_en_small, shipped with harken)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--output", help="write results: a .json manifest with pred_text, else 'path<TAB>text' lines")
    p.add_argument("--device", default="cpu")
    add_decoding_arguments(p)


def run(args: argparse.Namespace) -> int:
    import harken
    from harken.core.atomic import atomic_write_text
    from harken.data.manifest import read_manifest

    if bool(args.files) == bool(args.manifest):
        raise ValueError("give audio files or --manifest (one of the two)")
    rows = ([{"audio_filepath": f} for f in args.files] if args.files else
            [{"audio_filepath": e.audio_filepath, "duration": e.duration, "text": e.text}
             for e in read_manifest(args.manifest)])
    from harken.pretrained.catalog import DEFAULT_MODEL

    model = harken.from_pretrained(args.model or DEFAULT_MODEL, map_location=args.device, progress=False)
    texts = model.transcribe([r["audio_filepath"] for r in rows], batch_size=args.batch_size,
                             progress=len(rows) > args.batch_size, decoder=decoder_from_args(args, model))
    for row, text in zip(rows, texts):
        row["pred_text"] = text
    if args.output and args.output.endswith(".json"):
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    else:
        body = "".join(f"{r['audio_filepath']}\t{r['pred_text']}\n" for r in rows)
    if args.output:
        atomic_write_text(args.output, body)
    else:
        sys.stdout.write(body)
    return 0
