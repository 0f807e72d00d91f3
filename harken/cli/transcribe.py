"""harken transcribe FILES... | --manifest M  [--model M] [--runtime onnx] [--format srt,json,...] [--output-dir D]
                  [--output F] [--on-error skip|stop] [--beam-size N --lm LM --hotwords ...] [--vad [--vad-model M]]
                  [--dtype bfloat16]

Without --model, the English model shipped with harken (`harken_en_small`) is used. Without --format,
'path<TAB>text' lines go to stdout (or --output). With --format, each input gets one file per format in
--output-dir (default: the current folder), written as soon as that input is done. Recordings of any
length work: long ones are read and encoded in overlapping chunks.

Nothing finished is lost: --output records are appended to `<output>.partial` as they come (flushed each)
and renamed to `<output>` at the end, so Ctrl-C or a crash keeps what was done. An unreadable input is
reported as `manifest:line: why` and skipped (`--on-error skip`, the default: in a batch of a thousand
files one bad one should not cost the others); the exit status is then 1. Outputs are never written onto
an input, and never replace a file without --overwrite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from harken.cli import safety
from harken.cli.decoding_options import add_decoding_arguments, decoder_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", help="audio files (wav, flac, ogg, mp3 where libsndfile can)")
    p.add_argument("--manifest", help="transcribe every row of a manifest (offset/duration honoured)")
    p.add_argument("--model", default=None,
                   help=".nemo file, catalog name or URL (default: harken_en_small, shipped with harken)")
    p.add_argument("--batch-size", type=safety.positive_int, default=8)
    p.add_argument("--format", help="txt, json (OpenAI verbose_json), srt, vtt, tsv, ctm, comma-separated, or all: "
                                    "one file per input and format in --output-dir")
    p.add_argument("--output-dir", help="folder for --format files (default: the current folder)")
    p.add_argument("--overwrite", action="store_true", help="replace output files that already exist")
    p.add_argument("--output", help="without --format: a .json manifest with pred_text, else 'path<TAB>text' lines")
    p.add_argument("--chunk-seconds", type=float, default=30.0,
                   help="recordings over twice this are encoded in chunks of this length (default 30)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                   help="bfloat16: matrix products and convolutions in bfloat16 on a CPU with native support "
                        "(AVX512-BF16 or AMX), about 1.6x less CPU time; texts can differ slightly (default float32)")
    p.add_argument("--runtime", choices=["torch", "onnx"], default="torch",
                   help="onnx: run a model exported by `harken export` (--model: its .onnx file or folder) with "
                        "onnxruntime, no torch in the loop; recordings are decoded whole (default: torch)")
    p.add_argument("--vad", action="store_true",
                   help="decode only where a VAD finds speech, each region alone (instead of cutting long recordings "
                        "at pauses); times stay absolute")
    p.add_argument("--vad-model", help="VAD .nemo, catalog name or URL for --vad (default: harken_vad, shipped)")
    safety.add_on_error(p)
    add_decoding_arguments(p)


def run(args: argparse.Namespace) -> int:
    import harken
    from harken.data.manifest import read_manifest
    from harken.pretrained.catalog import DEFAULT_MODEL

    if bool(args.files) == bool(args.manifest):
        raise ValueError("give audio files or --manifest (one of the two)")
    formats = _formats(args.format)
    if args.output and formats:
        raise ValueError("--output is for the plain listing; with --format use --output-dir")
    if not args.chunk_seconds > 0:
        raise ValueError(f"--chunk-seconds must be positive, got {args.chunk_seconds}")
    if args.runtime == "torch":  # --runtime onnx needs no torch (checks --device itself)
        safety.check_device(args.device)
    safety.plain_warnings()
    inputs = list(args.files) if args.files else read_manifest(args.manifest)
    if not inputs:
        raise ValueError(f"{args.manifest}: the manifest has no rows: nothing to transcribe")
    sources = [args.manifest] if args.manifest else []
    sources += safety.option_files(args)
    sources += [x if isinstance(x, str) else x.audio_filepath for x in inputs]
    if args.output:
        safety.protect_output(args.output, sources, args.overwrite)
    precision = contextlib.nullcontext()
    if args.runtime == "onnx":
        if args.dtype != "float32":
            raise ValueError("--dtype is for the torch runtime; an ONNX export runs in the precision it was saved in")
        transcriber = _onnx_transcriber(args)
    else:
        from harken.inference.pipeline import Transcriber
        from harken.inference.precision import inference_dtype

        model = harken.from_pretrained(args.model or DEFAULT_MODEL, map_location=args.device, progress=False)
        if not hasattr(model, "decode_waves"):
            raise ValueError(f"{args.model}: a {type(model).__name__} labels audio, it does not transcribe speech")
        transcriber = Transcriber(model, decoder_from_args(args, model), batch_size=args.batch_size,
                                  long_audio_s=2 * args.chunk_seconds, chunk_s=args.chunk_seconds,
                                  progress=len(inputs) > args.batch_size,
                                  segmenter=_vad_segmenter(args) if args.vad or args.vad_model else None)
        precision = inference_dtype(model, args.dtype)
    errors = safety.ItemErrors(args.on_error)
    with precision:
        if formats:
            done = _write_files(transcriber, inputs, formats, Path(args.output_dir or "."), args.overwrite, sources,
                                errors)
        else:
            done = _write_listing(transcriber, inputs, args.output, errors)
    return errors.exit_status(done)


def _vad_segmenter(args: argparse.Namespace):
    """--vad: speech regions of an input (seconds from its start) from a VAD with NeMo's post-processing; the
    pipeline decodes each region alone and shifts its times back onto the recording's timeline."""
    import harken
    from harken.inference.speech_detection import default_params, detect_speech, speech_index
    from harken.pretrained.catalog import DEFAULT_VAD_MODEL

    vad = harken.from_pretrained(args.vad_model or DEFAULT_VAD_MODEL, map_location=args.device, progress=False)
    speech_index(vad)  # not a VAD: say so before any audio is read
    params = default_params(vad)
    return lambda inp: [(s.start, s.end) for s in detect_speech(vad, inp.read(vad.sample_rate), params).spans]


def _onnx_transcriber(args: argparse.Namespace):
    """--runtime onnx: an exported model through harken.runtime (CTC with the same decoding options;
    transducers greedy)."""
    from harken.runtime import load_recognizer
    from harken.runtime.transcriber import RuntimeTranscriber

    if not args.model:
        raise ValueError("--runtime onnx needs --model: a .onnx file or a folder written by `harken export`")
    if args.device != "cpu":
        raise ValueError("--runtime onnx runs on the CPU; leave out --device")
    recognizer = load_recognizer(args.model, batch_size=args.batch_size)
    if hasattr(recognizer, "decoding"):
        recognizer.decoding = decoder_from_args(args, recognizer)
    elif args.beam_size is not None or args.lm or args.hotwords:
        raise ValueError("--runtime onnx decodes transducers greedily: leave out --beam-size, --lm and --hotwords")
    return RuntimeTranscriber(recognizer)


def _formats(spec: str | None) -> list[str]:
    from harken.inference.formats import FORMATS

    if not spec:
        return []
    names = list(FORMATS) if spec == "all" else [f.strip().lower() for f in spec.split(",") if f.strip()]
    bad = [f for f in names if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown --format {', '.join(bad)}; choose from {', '.join(FORMATS)} (or all)")
    return names


def _write_files(transcriber, inputs: list, formats: list[str], out_dir: Path, overwrite: bool, sources: list,
                 errors: safety.ItemErrors) -> int:
    from harken.inference.formats import output_path, write_transcript
    from harken.inference.inputs import as_inputs
    from harken.inference.isolation import decode_each

    items = as_inputs(inputs, transcriber.model.sample_rate)
    used: set[str] = set()
    paths = [[output_path(inp.name, fmt, out_dir, used) for fmt in formats] for inp in items]
    safety.protect_outputs([p for row in paths for p in row], sources, overwrite, "another --output-dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    done = 0
    for inp, seq, seconds in decode_each(transcriber, items, errors):
        transcript, row = transcriber.transcript(inp, seq, seconds), paths[inp.index]
        for fmt, path in zip(formats, row):
            write_transcript(transcript, fmt, path)
        done += 1
        print(f"{transcript.source} -> {', '.join(str(p) for p in row)}", file=sys.stderr)
    return done


def _write_listing(transcriber, inputs: list, output: str | None, errors: safety.ItemErrors) -> int:
    """'path<TAB>text' lines to stdout, or to --output (.json: manifest rows with pred_text), record by record."""
    from contextlib import nullcontext

    from harken.inference.isolation import decode_each

    as_json = bool(output) and output.endswith(".json")
    done = 0
    with safety.StreamedOutput(output) if output else nullcontext() as sink:
        for inp, seq, _ in decode_each(transcriber, inputs, errors):
            text = transcriber.model.decode_text(seq)
            if as_json:
                row = {**inp.row, "pred_text": text} if inp.row else {"audio_filepath": inp.name, "pred_text": text}
                record = json.dumps(row, ensure_ascii=False) + "\n"
            else:
                record = f"{inp.name}\t{text}\n"
            if sink is None:
                sys.stdout.write(record)
                sys.stdout.flush()
            else:
                sink.write(record)
            done += 1
    return done
