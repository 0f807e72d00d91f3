"""harken eval --manifest test.json [--model M] [--output predictions.json] [--on-error skip|stop]
               [--beam-size N --lm LM] [--report page.html [--report-max N]]

Without --model, the English model shipped with harken (`harken_en_small`) is measured, as in `transcribe`.
--output rows (the manifest's, plus pred_text and wer) are appended to `<output>.partial` as they are scored
and renamed to `<output>` at the end, so an interrupted run keeps them. A row whose audio cannot be read is
reported as `manifest:line: why` and left out of the WER (`--on-error skip`, the default; the table says how
many); the exit status is then 1. An empty manifest, or one with no readable row, is an error.
--report writes a self-contained HTML page (harken/report/eval_page.py: audio, word differences, confidence,
plots), atomically at the end; like --output it replaces an existing file only with --overwrite.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harken.cli import safety
from harken.cli.decoding_options import add_decoding_arguments, decoder_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help=".nemo file, catalog name or URL (default: the shipped model)")
    p.add_argument("--manifest", required=True, help="JSON-lines manifest with reference text")
    p.add_argument("--batch-size", type=safety.positive_int, default=8)
    p.add_argument("--output", help="write a predictions manifest (adds pred_text and per-utterance wer)")
    p.add_argument("--report", help="write an HTML page of the results: audio players, word differences, plots")
    p.add_argument("--report-max", type=safety.positive_int, default=500,
                   help="rows shown on the --report page, a random sample beyond this (plots use every row; "
                        "default: 500)")
    p.add_argument("--overwrite", action="store_true", help="replace --output and --report if they exist")
    p.add_argument("--device", default="cpu")
    safety.add_on_error(p)
    add_decoding_arguments(p)


def run(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    import harken
    from harken.data.manifest import read_manifest
    from harken.metrics.evaluate import evaluate
    from harken.pretrained.catalog import DEFAULT_MODEL

    safety.check_device(args.device)
    safety.plain_warnings()
    if args.output or args.report:
        rows = read_manifest(args.manifest)  # the inputs --output and --report must not land on
        inputs = [args.manifest, *safety.option_files(args), *(e.audio_filepath for e in rows)]
        if args.output:
            safety.protect_output(args.output, inputs, args.overwrite)
        if args.report:
            if args.output and Path(args.report).resolve() in (Path(args.output).resolve(),
                                                               safety.partial_of(Path(args.output)).resolve()):
                raise ValueError(f"--report {args.report} is the --output file: give them different names")
            safety.protect_outputs([Path(args.report)], inputs, args.overwrite, "choose another --report")
    model = harken.from_pretrained(args.model or DEFAULT_MODEL, map_location=args.device, progress=False)
    errors = safety.ItemErrors(args.on_error)
    with safety.StreamedOutput(args.output) if args.output else nullcontext() as sink:
        def write(row: dict) -> None:
            if sink is not None:
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")

        result = evaluate(model, args.manifest, batch_size=args.batch_size, progress=True,
                          decoder=decoder_from_args(args, model), on_row=write, on_error=errors,
                          details=bool(args.report))
        if not result.utterances:
            raise ValueError(f"{args.manifest}: no row could be read ({errors.count} failed): no WER to report")
    print(result.table())
    if args.report:
        from harken.report.eval_page import build_eval_report

        page = build_eval_report(result, args.report, args.model or DEFAULT_MODEL, model.sample_rate,
                                 max_rows=args.report_max)
        print(f"report: {page}")
    return errors.exit_status(result.utterances)
