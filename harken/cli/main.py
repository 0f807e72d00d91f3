"""`harken` command line: one sub-command per module in this package, imported only when used."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "train": ("harken.cli.train", "train a model from a NeMo-layout YAML config"),
    "sweep": ("harken.cli.sweep", "hyperparameter sweep with Optuna: each trial a run, results best first"),
    "average": ("harken.cli.average", "average the weights of several checkpoints of one run into a .nemo"),
    "eval": ("harken.cli.evaluate", "WER/CER of a model on a manifest"),
    "report": ("harken.cli.report", "an HTML page of a training run: curves, final metrics, config"),
    "transcribe": ("harken.cli.transcribe", "transcribe audio files or a manifest (txt, json, srt, vtt, tsv, ctm)"),
    "align": ("harken.cli.align", "forced alignment: word and token times of known transcripts"),
    "data": ("harken.cli.data", "data tools: synth (espeak-ng corpus), check (validate a manifest)"),
    "lm": ("harken.cli.lm", "build a word n-gram language model (ARPA) for beam search"),
    "tokenizer": ("harken.cli.tokenizer", "train a SentencePiece tokenizer from manifest texts"),
    "models": ("harken.cli.models", "list or download pretrained models"),
    "classify": ("harken.cli.classify", "label each audio file with a classifier (speech commands, segment VAD)"),
    "export": ("harken.cli.export", "export to ONNX (optionally int8; onnxruntime, sherpa-onnx) or TorchScript"),
    "vad": ("harken.cli.vad", "voice activity detection: speech segments (json, rttm, ctm, txt) as NeMo computes them"),
}

# a package that only an install extra brings -> (its name for people, the extra)
EXTRAS = {"torch": ("PyTorch", "torch"), "lightning": ("Lightning", "train"), "onnx": ("onnx", "export"),
          "onnxruntime": ("onnxruntime", "runtime")}
COMMAND_EXTRAS = {"train": "train", "sweep": "train", "export": "export"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="harken", description="Neural speech recognition (NeMo-compatible).")
    parser.add_argument("--version", action="version", version=f"harken {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    argv = sys.argv[1:] if argv is None else argv
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:  # only the chosen command's module (and torch) is imported
            modules[name] = importlib.import_module(module)
            modules[name].add_arguments(p)
    args, extra = parser.parse_known_args(argv)
    if extra:  # `harken train CONFIG --out X key=value`: overrides may follow the options too
        if not hasattr(args, "overrides") or any(x.startswith("-") or "=" not in x for x in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    if args.command is None:
        parser.print_help()
        return 2
    from harken.core.memory import reuse_freed_memory

    reuse_freed_memory()  # large tensors: reuse freed heap pages instead of mapping fresh ones (core/memory.py)
    try:
        return int(modules[args.command].run(args) or 0)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except (ValueError, OSError, KeyError, EOFError) as e:  # user errors: message, no traceback
        print(f"harken {args.command}: error: {str(e).strip() or type(e).__name__}", file=sys.stderr)
        return 1
    except ImportError as e:  # the base install has no torch or Lightning: name the extra, no traceback
        hint = _missing_extra(args, e.name or "")
        if hint is None:
            raise
        print(f"harken {args.command}: error: {hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: what was finished is kept (see each command's help)
        print(f"harken {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"harken {args.command}: error: out of memory; README 'Limits and guarantees' lists the HARKEN_MAX_* "
              "limits that refuse oversized input up front (lower them to fit this machine)", file=sys.stderr)
        return 1
    except RecursionError:
        print(f"harken {args.command}: error: input nested too deeply to read", file=sys.stderr)
        return 1


def _missing_extra(args: argparse.Namespace, module: str) -> str | None:
    """`needs PyTorch: pip install 'harken[torch]'` for a missing package an extra brings, else None."""
    what, extra = EXTRAS.get(module.split(".")[0], (None, None))
    if what is None:
        return None
    extra = COMMAND_EXTRAS.get(args.command, extra)  # training needs Lightning too, export onnx too
    hint = " (or use --runtime onnx with an exported model)" if getattr(args, "runtime", None) == "torch" else ""
    return f"needs {what}: pip install 'harken[{extra}]'{hint}"


def _version() -> str:
    from harken import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
