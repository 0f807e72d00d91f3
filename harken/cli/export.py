"""harken export MODEL OUT.onnx [--quantize int8] [--dynamo]

Writes an ONNX graph (features in; CTC log-probs, or classifier logits, out) with metadata that describes
the front end, vocabulary and frame shift, and for CTC models a sherpa-onnx `tokens.txt` beside it.
`harken.runtime.OnnxRecognizer(OUT.onnx)` then transcribes with onnxruntime and numpy, no torch.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=".nemo file, catalog name or URL (CTC model or classifier)")
    p.add_argument("output", help="the .onnx file to write (tokens.txt goes beside it)")
    p.add_argument("--quantize", choices=["int8"], help="store weights as int8 (dynamic quantisation, ~4x smaller)")
    p.add_argument("--dynamo", action="store_true", help="use torch.export (needs onnxscript), not tracing")


def run(args: argparse.Namespace) -> int:
    import harken
    from harken.export import export

    model = harken.from_pretrained(args.model, progress=False)
    path = export(model, args.output, quantize=args.quantize, dynamo=args.dynamo)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    if hasattr(model, "blank_id"):  # CTC models get a tokens.txt
        print(f"wrote {path.parent / 'tokens.txt'}")
    return 0
