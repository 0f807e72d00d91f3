"""harken classify FILES... | --manifest M  --model M  [--top-k K] [--json]

One label per file from an utterance classifier (MatchboxNet speech commands, MarbleNet segment VAD):
'file<TAB>label<TAB>score' lines, score being the softmax probability; with --top-k K, K label/score pairs
on the line, best first. --json prints one JSON object per file instead. Frame classifiers (frame VADs) label
frames, not files: use `harken vad`.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", help="audio files")
    p.add_argument("--manifest", help="classify every row of a manifest (offset/duration honoured)")
    p.add_argument("--model", help="classifier .nemo file, catalog name or URL (required)")
    p.add_argument("--top-k", type=int, default=1, help="labels to print per file, best first (default 1)")
    p.add_argument("--json", action="store_true", help="one JSON object per file: source and top-k labels")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu")


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
    from harken.inference.inputs import as_inputs

    if not args.model:
        raise ValueError("--model is required: give a classifier .nemo (e.g. MatchboxNet speech commands)")
    if bool(args.files) == bool(args.manifest):
        raise ValueError("give audio files or --manifest (one of the two)")
    if args.top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {args.top_k}")
    model = harken.from_pretrained(args.model, map_location=args.device, progress=False)
    check_classifier(model, args.model)
    items = as_inputs(list(args.files) if args.files else read_manifest(args.manifest), model.sample_rate)
    k = min(args.top_k, len(model.labels))
    for start in range(0, len(items), args.batch_size):  # read a batch at a time, print as it goes
        chunk = items[start:start + args.batch_size]
        results = model.classify([inp.read(model.sample_rate) for inp in chunk], batch_size=args.batch_size)
        for inp, c in zip(chunk, results):
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
        sys.stdout.flush()
    return 0
