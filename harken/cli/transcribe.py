"""harken transcribe FILES... | --manifest M  [--model M] [--format srt,json,...] [--output-dir D]
                  [--output F] [--beam-size N --lm LM --hotwords ...]

Without --model, the English model shipped with harken (`harken_en_small`) is used. Without --format,
'path<TAB>text' lines go to stdout (or --output). With --format, each input gets one file per format in
--output-dir (default: the current folder), written as soon as that input is done. Recordings of any
length work: long ones are read and encoded in overlapping chunks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harken.cli.decoding_options import add_decoding_arguments, decoder_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", help="audio files (wav, flac, ogg, mp3 where libsndfile can)")
    p.add_argument("--manifest", help="transcribe every row of a manifest (offset/duration honoured)")
    p.add_argument("--model", default=None,
                   help=".nemo file, catalog name or URL (default: harken_en_small, shipped with harken)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--format", help="txt, json (OpenAI verbose_json), srt, vtt, tsv, ctm, comma-separated, or all: "
                                    "one file per input and format in --output-dir")
    p.add_argument("--output-dir", help="folder for --format files (default: the current folder)")
    p.add_argument("--overwrite", action="store_true", help="replace --format files that already exist")
    p.add_argument("--output", help="without --format: a .json manifest with pred_text, else 'path<TAB>text' lines")
    p.add_argument("--chunk-seconds", type=float, default=30.0,
                   help="recordings over twice this are encoded in chunks of this length (default 30)")
    p.add_argument("--device", default="cpu")
    add_decoding_arguments(p)


def run(args: argparse.Namespace) -> int:
    import harken
    from harken.data.manifest import read_manifest
    from harken.inference.pipeline import Transcriber
    from harken.pretrained.catalog import DEFAULT_MODEL

    if bool(args.files) == bool(args.manifest):
        raise ValueError("give audio files or --manifest (one of the two)")
    formats = _formats(args.format)
    if args.output and formats:
        raise ValueError("--output is for the plain listing; with --format use --output-dir")
    if args.chunk_seconds <= 0:
        raise ValueError(f"--chunk-seconds must be positive, got {args.chunk_seconds}")
    inputs = list(args.files) if args.files else read_manifest(args.manifest)
    model = harken.from_pretrained(args.model or DEFAULT_MODEL, map_location=args.device, progress=False)
    if not hasattr(model, "decode_waves"):
        raise ValueError(f"{args.model}: a {type(model).__name__} labels audio, it does not transcribe speech")
    transcriber = Transcriber(model, decoder_from_args(args, model), batch_size=args.batch_size,
                              long_audio_s=2 * args.chunk_seconds, chunk_s=args.chunk_seconds,
                              progress=len(inputs) > args.batch_size)
    if formats:
        return _write_files(transcriber, inputs, formats, Path(args.output_dir or "."), args.overwrite)
    return _write_listing(transcriber, inputs, args.output)


def _formats(spec: str | None) -> list[str]:
    from harken.inference.formats import FORMATS

    if not spec:
        return []
    names = list(FORMATS) if spec == "all" else [f.strip().lower() for f in spec.split(",") if f.strip()]
    bad = [f for f in names if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown --format {', '.join(bad)}; choose from {', '.join(FORMATS)} (or all)")
    return names


def _write_files(transcriber, inputs: list, formats: list[str], out_dir: Path, overwrite: bool) -> int:
    from harken.inference.formats import output_path, write_transcript
    from harken.inference.inputs import as_inputs

    items = as_inputs(inputs, transcriber.model.sample_rate)
    used: set[str] = set()
    paths = [[output_path(inp.name, fmt, out_dir, used) for fmt in formats] for inp in items]
    existing = [str(p) for row in paths for p in row if p.exists()]
    if existing and not overwrite:
        raise ValueError(f"{existing[0]} exists ({len(existing)} output file(s) would be replaced): "
                         "give --overwrite or another --output-dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    for row, transcript in zip(paths, transcriber(items)):
        for fmt, path in zip(formats, row):
            write_transcript(transcript, fmt, path)
        print(f"{transcript.source} -> {', '.join(str(p) for p in row)}", file=sys.stderr)
    return 0


def _write_listing(transcriber, inputs: list, output: str | None) -> int:
    from harken.core.atomic import atomic_write_text

    rows = []
    for transcript in transcriber(inputs):
        rows.append({"audio_filepath": transcript.source, "pred_text": transcript.text})
        if not output:
            sys.stdout.write(f"{transcript.source}\t{transcript.text}\n")
            sys.stdout.flush()
    if output:
        if output.endswith(".json"):
            if not isinstance(inputs[0], str):  # a manifest: keep its rows, add pred_text
                rows = [{**e.to_dict(), "pred_text": r["pred_text"]} for e, r in zip(inputs, rows)]
            body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        else:
            body = "".join(f"{r['audio_filepath']}\t{r['pred_text']}\n" for r in rows)
        atomic_write_text(output, body)
    return 0
