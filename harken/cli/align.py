"""harken align --manifest m.json --output-dir D [--model M] [--format ctm,json,srt]

Forced alignment of known transcripts (each manifest row's `text`): word and token times by CTC Viterbi,
one file per row and format. JSON holds words and tokens with their times; CTM holds words (and, with
--tokens, a `<name>.tokens.ctm` with every token).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", required=True, help="rows with audio_filepath and the text to align")
    p.add_argument("--model", default=None, help=".nemo file, catalog name or URL (default: the shipped model)")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--format", default="ctm,json", help="ctm, json, srt, vtt, tsv, txt; comma-separated")
    p.add_argument("--tokens", action="store_true", help="also write every token's time as <name>.tokens.ctm")
    p.add_argument("--overwrite", action="store_true", help="replace output files that already exist")
    p.add_argument("--device", default="cpu")


def run(args: argparse.Namespace) -> int:
    import json

    import harken
    from harken.core.atomic import atomic_write_text
    from harken.data.manifest import read_manifest
    from harken.inference.align import align
    from harken.inference.formats import format_transcript, output_path
    from harken.pretrained.catalog import DEFAULT_MODEL

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    entries = read_manifest(args.manifest)
    out = Path(args.output_dir)
    used: set[str] = set()
    paths = [[output_path(e.audio_filepath, f, out, used) for f in formats] for e in entries]
    if args.tokens:
        paths = [[*row, row[0].with_name(row[0].stem + ".tokens.ctm")] for row in paths]
    existing = [str(p) for row in paths for p in row if p.exists()]
    if existing and not args.overwrite:
        raise ValueError(f"{existing[0]} exists ({len(existing)} output file(s) would be replaced): "
                         "give --overwrite or another --output-dir")
    model = harken.from_pretrained(args.model or DEFAULT_MODEL, map_location=args.device, progress=False)
    out.mkdir(parents=True, exist_ok=True)
    for row, t in zip(paths, align(model, entries)):
        for fmt, path in zip(formats, row):
            if fmt == "json":
                body = json.dumps({**t.to_dict(), "tokens": [k.to_dict() for k in t.tokens]}, ensure_ascii=False,
                                  indent=2) + "\n"
            else:
                body = format_transcript(t, fmt)
            atomic_write_text(path, body)
        if args.tokens:
            stem = Path(t.source).stem.replace(" ", "_") or "utt"
            atomic_write_text(row[-1], "".join(f"{stem} 1 {k.start:.3f} {k.end - k.start:.3f} "
                                               f"{k.text.strip() or '<space>'} {k.confidence:.3f}\n"
                                               for k in t.tokens))
        print(f"{t.source}: {len(t.words)} words -> {', '.join(str(p) for p in row)}", file=sys.stderr)
    return 0
