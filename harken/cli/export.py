"""harken export MODEL OUT [--format onnx|torchscript] [--quantize int8] [--dynamo] [--ctc-head] [--overwrite]

ONNX (the default): CTC models and classifiers give one graph (features in; CTC log-probs, or classifier
logits, out) with metadata that describes the front end, vocabulary and frame shift, and for CTC models a
sherpa-onnx `tokens.txt` beside it; OUT is the .onnx file, or a folder that gets `model.onnx`. Transducers
(RNNT, TDT, hybrids) give a folder OUT with encoder.onnx, decoder.onnx, joiner.onnx and tokens.txt, as
sherpa-onnx's NeMo transducer exports have them; `--ctc-head` adds a hybrid's CTC head as model.onnx.
`harken transcribe --runtime onnx --model OUT` (or `harken.runtime.load_recognizer(OUT)`) then transcribes
with onnxruntime and numpy, no torch. TorchScript: one file that `torch.jit.load` reads (features in,
outputs out); for transducers a folder with encoder.pt, decoder.pt, joiner.pt. Existing files are kept unless
--overwrite.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harken.cli import safety


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=".nemo file, catalog name or URL (CTC model, transducer or classifier)")
    p.add_argument("output", help="the .onnx (or TorchScript .pt) file to write, or a folder (transducers: always)")
    p.add_argument("--format", choices=["onnx", "torchscript"], default="onnx", help="default: onnx")
    p.add_argument("--quantize", choices=["int8"], help="store weights as int8 (dynamic quantisation, ~4x smaller)")
    p.add_argument("--dynamo", action="store_true", help="use torch.export (needs onnxscript), not tracing")
    p.add_argument("--ctc-head", action="store_true", help="hybrid transducers: also export the CTC head (model.onnx)")
    p.add_argument("--overwrite", action="store_true", help="replace files that already exist")


def run(args: argparse.Namespace) -> int:
    import harken
    from harken.export import export
    from harken.export.metadata import model_kind

    model = harken.from_pretrained(args.model, progress=False)
    kind = model_kind(model)
    out = Path(args.output)
    written = _outputs(out, kind, args.format, args.ctc_head)
    safety.protect_outputs(written, [args.model], args.overwrite, "another OUT")
    target = written[0].parent if kind == "transducer" else written[0]
    export(model, target, format=args.format, quantize=args.quantize, dynamo=args.dynamo, ctc_head=args.ctc_head)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    return 0


def _outputs(out: Path, kind: str, fmt: str, ctc_head: bool) -> list[Path]:
    """Every file the export will write, the main one first."""
    if fmt == "torchscript":
        if kind == "transducer":
            return [out / name for name in ("encoder.pt", "decoder.pt", "joiner.pt", "tokens.txt")]
        if out.is_dir():
            raise ValueError(f"{out} is a folder: give the TorchScript file to write (e.g. model.pt)")
        return [out]
    if kind == "transducer":
        if out.suffix == ".onnx":
            raise ValueError(f"{out}: a transducer is exported as three graphs into a folder; give a folder name")
        from harken.export.transducer_export import FILES

        return [out / name for name in FILES] + ([out / "model.onnx"] if ctc_head else [])
    path = out if out.suffix == ".onnx" else out / "model.onnx"
    return [path, path.parent / "tokens.txt"] if kind == "ctc" else [path]
