"""harken align --manifest m.json --output-dir D [--model M] [--format ctm,json,srt] [--on-error skip|stop]

Forced alignment of known transcripts (each manifest row's `text`): word and token times by CTC Viterbi,
one file per row and format, each written (atomically) as soon as its row is done. JSON holds words and
tokens with their times; CTM holds words (and, with --tokens, a `<name>.tokens.ctm` with every token).
A row that cannot be aligned (unreadable audio, a text that does not fit it) is reported as
`manifest:line: why` and skipped (or ends the run with --on-error stop); the exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harken.cli.safety import ItemErrors, add_on_error, check_device, option_files, plain_warnings, protect_outputs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", required=True, help="rows with audio_filepath and the text to align")
    p.add_argument("--model", default=None, help=".nemo file, catalog name or URL (default: the shipped model)")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--format", default="ctm,json", help="ctm, json, srt, vtt, tsv, txt; comma-separated")
    p.add_argument("--tokens", action="store_true", help="also write every token's time as <name>.tokens.ctm")
    p.add_argument("--overwrite", action="store_true", help="replace output files that already exist")
    p.add_argument("--device", default="cpu")
    add_on_error(p)


def run(args: argparse.Namespace) -> int:
    import harken
    from harken.data.manifest import read_manifest
    from harken.inference.formats import FORMATS, output_path
    from harken.pretrained.catalog import DEFAULT_MODEL

    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"unknown --format {', '.join(bad) or args.format!r}; choose from {', '.join(FORMATS)}")
    check_device(args.device)
    plain_warnings()
    entries = read_manifest(args.manifest)
    if not entries:
        raise ValueError(f"{args.manifest}: the manifest has no rows: nothing to align")
    out = Path(args.output_dir)
    used: set[str] = set()
    paths = [[output_path(e.audio_filepath, f, out, used) for f in formats] for e in entries]
    if args.tokens:
        paths = [[*row, row[0].with_name(row[0].stem + ".tokens.ctm")] for row in paths]
    protect_outputs([p for row in paths for p in row],
                    [args.manifest, *option_files(args), *(e.audio_filepath for e in entries)], args.overwrite,
                    "another --output-dir")
    model = harken.from_pretrained(args.model or DEFAULT_MODEL, map_location=args.device, progress=False)
    out.mkdir(parents=True, exist_ok=True)
    errors, done = ItemErrors(args.on_error), 0
    for entry, row in zip(entries, paths):
        try:
            t = _align_one(model, entry)
        except (ValueError, OSError, RuntimeError, MemoryError) as e:
            message = str(e) if str(e).startswith(entry.where) else f"{entry.where}: {e}"
            if errors(entry, message):
                continue
            break
        _write(t, formats, row, args.tokens)
        done += 1
        print(f"{t.source}: {len(t.words)} words -> {', '.join(str(p) for p in row)}", file=sys.stderr)
    return errors.exit_status(done)


def _align_one(model, entry):
    from harken.inference.align import align

    (t,) = align(model, [entry])
    return t


def _write(t, formats: list[str], row: list[Path], tokens: bool) -> None:
    import json

    from harken.core.atomic import atomic_write_text
    from harken.inference.formats import format_transcript

    for fmt, path in zip(formats, row):
        if fmt == "json":
            body = json.dumps({**t.to_dict(), "tokens": [k.to_dict() for k in t.tokens]}, ensure_ascii=False,
                              indent=2) + "\n"
        else:
            body = format_transcript(t, fmt)
        atomic_write_text(path, body)
    if tokens:
        stem = Path(t.source).stem.replace(" ", "_") or "utt"
        atomic_write_text(row[-1], "".join(f"{stem} 1 {k.start:.3f} {k.end - k.start:.3f} "
                                           f"{k.text.strip() or '<space>'} {k.confidence:.3f}\n" for k in t.tokens))
