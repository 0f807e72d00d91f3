"""harken classify FILES... | --manifest M  [--model M]  [--top-k K] [--json]

One label per file from an utterance classifier (MatchboxNet speech commands, MarbleNet segment VAD):
'file<TAB>label<TAB>score' lines, score being the softmax probability; with --top-k K, K label/score pairs
on the line, best first. --json prints one JSON object per file instead. Frame classifiers (frame VADs) label
frames, not files: use `harken vad`.

Lines are printed a batch at a time, as they are done. An unreadable input is reported as `manifest:line: why`
and skipped (`--on-error skip`, the default) or ends the run (`stop`); the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import sys

from harken.cli import safety


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", help="audio files")
    p.add_argument("--manifest", help="classify every row of a manifest (offset/duration honoured)")
    p.add_argument("--model", help="classifier .nemo file, catalog name or URL (default: harken_commands_en, shipped: "
                                    "yes no up down left right on off stop go, unknown, silence)")
    p.add_argument("--top-k", type=int, default=1, help="labels to print per file, best first (default 1)")
    p.add_argument("--json", action="store_true", help="one JSON object per file: source and top-k labels")
    p.add_argument("--batch-size", type=safety.positive_int, default=8)
    p.add_argument("--device", default="cpu")
    safety.add_on_error(p)


def check_classifier(model, name: str) -> None:
    """Only utterance classifiers label whole files; say what to use for the others."""
    from harken.models.classifier import FrameClassifier, SpeechClassifier

    if isinstance(model, FrameClassifier):
        raise ValueError(f"{name} is a frame classifier (one label per {model.frame_shift * 1000:.0f} ms frame): "
                         "use `harken vad` for speech segments")
    if not isinstance(model, SpeechClassifier):
        raise ValueError(f"{name} is a {type(model).__name__}, which transcribes speech: use `harken transcribe`")


def run(args: argparse.Namespace) -> int:
    import harken
    from harken.data.manifest import read_manifest
    from harken.inference.inputs import guarded

    if not args.model:
        from harken.pretrained.catalog import DEFAULT_COMMANDS_MODEL

        args.model = DEFAULT_COMMANDS_MODEL
    if bool(args.files) == bool(args.manifest):
        raise ValueError("give audio files or --manifest (one of the two)")
    if args.top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {args.top_k}")
    safety.check_device(args.device)
    safety.plain_warnings()
    rows = list(args.files) if args.files else read_manifest(args.manifest)
    if not rows:
        raise ValueError(f"{args.manifest}: the manifest has no rows: nothing to classify")
    model = harken.from_pretrained(args.model, map_location=args.device, progress=False)
    check_classifier(model, args.model)
    items = [guarded(item, model.sample_rate, n) for n, item in enumerate(rows)]
    k = min(args.top_k, len(model.labels))
    errors, done = safety.ItemErrors(args.on_error), 0
    for start in range(0, len(items), args.batch_size):  # read a batch at a time, print as it goes
        for inp, c in _classified(model, items[start:start + args.batch_size], errors):
            probs = c.logits.float().softmax(-1)
            scores, idx = probs.topk(k)
            top = [(model.labels[int(i)], float(s)) for s, i in zip(scores, idx)]
            if args.json:
                line = json.dumps({"source": inp.name, "label": top[0][0], "score": round(top[0][1], 4),
                                   "top_k": [{"label": lab, "score": round(s, 4)} for lab, s in top]},
                                  ensure_ascii=False)
            else:
                line = "\t".join([inp.name, *(f"{lab}\t{s:.4f}" for lab, s in top)])
            sys.stdout.write(line + "\n")
            done += 1
        sys.stdout.flush()
        if errors.count and errors.mode == "stop":
            break
    return errors.exit_status(done)


def _classified(model, chunk: list, errors: safety.ItemErrors) -> list[tuple]:
    """(input, classification) for the inputs of a batch that read and classify; the others are reported
    (up to the first, with --on-error stop). A batch the model fails on is retried one input at a time."""
    from harken.inference.isolation import ITEM_ERRORS

    good, waves = [], []
    for inp in chunk:
        wave = inp.read(model.sample_rate)
        if inp.error is None:
            good.append(inp)
            waves.append(wave)
        elif not errors(inp, inp.error):
            break
    try:
        return list(zip(good, model.classify(waves, batch_size=len(waves)))) if waves else []
    except ITEM_ERRORS:
        pass
    done = []
    for inp, wave in zip(good, waves):
        try:
            done.append((inp, model.classify([wave])[0]))
        except ITEM_ERRORS as e:
            if not errors(inp, f"{inp.where or inp.name}: {e}"):
                break
    return done
