"""harken vad FILES... | --manifest M  [--model VAD.nemo]  [--format json,rttm,ctm,txt] [--output-dir D]
           [--onset X --offset X --pad-onset S --pad-offset S --min-duration-on S --min-duration-off S]

Speech segments from a NeMo VAD: a frame VAD (MarbleNet, 20 ms frames) or a window VAD (labels
[background, speech], slid as NeMo's vad_infer.py does). Post-processing is NeMo's, with the settings of its
example configs unless overridden. Without --model, harken_vad (shipped, recipes/vad_commands) runs.

Without --format: 'file<TAB>start<TAB>end' per segment on stdout. With --format, each input gets one file per
format in --output-dir: `txt` and `rttm` are NeMo's table files byte for byte (duration + 0.01 s, a last
segment may end past the audio), `json` and `ctm` hold harken's segments, clipped to the audio. Times of
manifest rows with an `offset` are in the file's timeline.

Each input's result is written as soon as it is done. An unreadable input is reported as `manifest:line: why`
and skipped (`--on-error skip`, the default) or ends the run (`stop`); the exit status is then 1. Output files
never replace an input, nor an existing file without --overwrite.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict
from pathlib import Path

from harken.cli import safety

VAD_FORMATS = ("json", "rttm", "ctm", "txt")
POST = ("onset", "offset", "pad_onset", "pad_offset", "min_duration_on", "min_duration_off")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", help="audio files")
    p.add_argument("--manifest", help="run on every row of a manifest (offset/duration honoured)")
    p.add_argument("--model", help="VAD .nemo file, catalog name or URL (default: harken_vad, shipped)")
    p.add_argument("--format", help=f"{', '.join(VAD_FORMATS)} or comma-separated: one file per input and format")
    p.add_argument("--output-dir", help="folder for --format files (default: the current folder)")
    p.add_argument("--overwrite", action="store_true", help="replace --format files that already exist")
    for name in POST:
        p.add_argument("--" + name.replace("_", "-"), type=finite, help="post-processing (default: NeMo's config)")
    p.add_argument("--gaps-first", action="store_true", help="fill short gaps before dropping short speech")
    p.add_argument("--scale", choices=("absolute", "relative", "percentile"), help="threshold scale")
    p.add_argument("--shift", type=finite, default=0.08, help="window VADs: seconds between windows (NeMo: 0.08; "
                                                             "0.01 is finer and 8 times slower)")
    p.add_argument("--smoothing", choices=("mean", "median"), help="window VADs: NeMo's overlap smoothing")
    p.add_argument("--overlap", type=finite, default=0.875, help="overlap for --smoothing (default 0.875)")
    p.add_argument("--device", default="cpu")
    safety.add_on_error(p)


def finite(text: str) -> float:
    """argparse type: a number that is not NaN or infinite (NaN compares false with every threshold)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    import harken
    from harken.data.manifest import read_manifest
    from harken.inference.inputs import guarded
    from harken.inference.speech_detection import default_params, speech_index
    from harken.inference.vad import with_overrides

    if not args.model:
        from harken.pretrained.catalog import DEFAULT_VAD_MODEL

        args.model = DEFAULT_VAD_MODEL
    if bool(args.files) == bool(args.manifest):
        raise ValueError("give audio files or --manifest (one of the two)")
    formats = _formats(args.format)
    safety.check_device(args.device)
    safety.plain_warnings()
    rows = list(args.files) if args.files else read_manifest(args.manifest)
    if not rows:
        raise ValueError(f"{args.manifest}: the manifest has no rows: nothing to do")
    model = harken.from_pretrained(args.model, map_location=args.device, progress=False)
    speech_index(model)  # not a VAD: say so before reading any audio
    overrides = {name: getattr(args, name) for name in POST}
    params = with_overrides(default_params(model, args.shift), **overrides, scale=args.scale,
                            filter_speech_first=False if args.gaps_first else None)
    items = [guarded(item, model.sample_rate, k) for k, item in enumerate(rows)]
    out_dir, used = Path(args.output_dir or "."), set()
    paths = [[_output_path(inp.name, fmt, out_dir, used) for fmt in formats] for inp in items]
    sources = [args.manifest] if args.manifest else []
    sources += [*safety.option_files(args), *(inp.name for inp in items)]
    safety.protect_outputs([p for row in paths for p in row], sources, args.overwrite, "another --output-dir")
    errors, done = safety.ItemErrors(args.on_error), 0
    for inp, row in zip(items, paths):
        result = _detect(inp, model, params, args)
        if result is None:
            if errors(inp, inp.error):
                continue
            break
        done += 1
        if not formats:
            for s in result.spans:
                sys.stdout.write(f"{inp.name}\t{s.start + inp.offset:.3f}\t{s.end + inp.offset:.3f}\n")
            sys.stdout.flush()
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        for fmt, path in zip(formats, row):
            _write(result, fmt, path)
        print(f"{inp.name} -> {', '.join(str(p) for p in row)}", file=sys.stderr)
    return errors.exit_status(done)


def _detect(inp, model, params, args: argparse.Namespace):
    """The input's speech segments, or None with `inp.error` saying why not (one input's failure is its own)."""
    from harken.inference.isolation import ITEM_ERRORS
    from harken.inference.speech_detection import detect_speech

    wave = inp.read(model.sample_rate)
    if inp.error is not None:
        return None
    try:
        result = detect_speech(model, wave, params, inp.name, args.shift, args.smoothing, args.overlap)
    except ITEM_ERRORS as e:
        inp.error = f"{inp.where or inp.name}: {e}"
        return None
    result.offset = inp.offset
    return result


def _formats(spec: str | None) -> list[str]:
    names = [f.strip().lower() for f in (spec or "").split(",") if f.strip()]
    bad = [f for f in names if f not in VAD_FORMATS]
    if bad:
        raise ValueError(f"unknown --format {', '.join(bad)}; choose from {', '.join(VAD_FORMATS)}")
    return names


def _output_path(source: str, fmt: str, out_dir: Path, used: set[str]) -> Path:
    """`<stem>.<fmt>`, numbered when two inputs share a stem (as harken transcribe names its files)."""
    stem = Path(source).stem if source and not source.startswith("<") else f"array-{len(used)}"
    n = 0
    while True:
        path = out_dir / (f"{stem}.{fmt}" if n == 0 else f"{stem}-{n}.{fmt}")
        key = str(path.resolve()).casefold()
        if key not in used and key != str(Path(source).resolve()).casefold():
            used.add(key)
            return path
        n += 1


def format_result(result, fmt: str) -> str:
    """The body of one output file (see the module docstring for what each format holds)."""
    from harken.inference.vad import table_rttm, table_txt

    off = result.offset
    rows = result.rows.astype(float)  # float64: the offset must not round the float32 times
    rows[:, 0] += off
    name = Path(result.source).stem if not result.source.startswith("<") else "array"
    if fmt == "txt":
        return table_txt(rows)
    if fmt == "rttm":
        return table_rttm(rows, name)
    if fmt == "ctm":
        utt = re.sub(r"\s+", "_", name) or "utt"
        return "".join(f"{utt} 1 {s.start + off:.3f} {s.end - s.start:.3f} speech {s.score:.3f}\n"
                       for s in result.spans)
    body = {"source": result.source, "duration": round(result.duration, 3), "offset": off,
            "params": asdict(result.params),
            "segments": [{**s.to_dict(), "start": round(s.start + off, 3), "end": round(s.end + off, 3)}
                         for s in result.spans]}
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


def _write(result, fmt: str, path: Path) -> None:
    from harken.core.atomic import atomic_write_text

    atomic_write_text(path, format_result(result, fmt))
