"""The decoding options `transcribe` and `eval` share: greedy by default, beam search with an optional LM
and hotwords (context biasing)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_decoding_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("decoding (greedy unless --beam-size, --lm or --hotwords is given)")
    g.add_argument("--beam-size", type=int, default=None,
                   help="beam search with this many beams (CTC: prefix beam search; transducers: NeMo's default "
                        "transducer beam search, no --lm or --hotwords)")
    g.add_argument("--lm", help="word n-gram LM in ARPA format (.arpa or .arpa.gz; `harken lm build` makes one): "
                                "build it from text like what is said, words it lacks are penalised and may be dropped")
    g.add_argument("--alpha", type=float, default=0.5, help="LM weight (NeMo's beam_alpha)")
    g.add_argument("--beta", type=float, default=1.0, help="bonus per word (NeMo's beam_beta)")
    g.add_argument("--hotwords", help="words or phrases to favour (names, terms), comma-separated, or @FILE with one "
                                      "a line; matched as whole words")
    g.add_argument("--hotword-weight", type=float, default=None,
                   help="bonus per character of a hotword (default: BeamSearchDecoder's, see bench/RESULTS.md)")


def read_hotwords(value: str | None) -> list[str]:
    """The hotwords of a --hotwords value: "a,b" or "@file" (one a line); blank entries are skipped."""
    if not value:
        return []
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            entries = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise ValueError(f"--hotwords: cannot read {path}: {e.strerror or e}") from e
    else:
        entries = value.split(",")
    return [e.strip() for e in entries if e.strip()]


def decoder_from_args(args: argparse.Namespace, model):
    """None (greedy), a BeamSearchDecoder for the model's tokens, or for a transducer decoding with its
    transducer head (`cur_decoder` "rnnt"; a hybrid switched to its CTC head takes the CTC search) a
    BeamTransducer, which has no LM or hotwords yet."""
    hotwords = read_hotwords(getattr(args, "hotwords", None))
    if getattr(args, "hotword_weight", None) is not None and not hotwords:
        raise ValueError("--hotword-weight needs --hotwords")
    if args.beam_size is None and not args.lm and not hotwords:
        return None
    if args.beam_size is not None and args.beam_size < 1:
        raise ValueError(f"--beam-size must be at least 1, got {args.beam_size}")
    if getattr(model, "cur_decoder", None) == "rnnt":
        if args.lm or hotwords:
            raise ValueError("--lm and --hotwords are not supported for transducer models yet; "
                             "--beam-size N alone runs a transducer beam search")
        from harken.decoding.transducer_beam import BeamTransducer

        return BeamTransducer(beam_size=args.beam_size)
    from harken.decoding.ctc_beam import BeamSearchDecoder

    beam_size = 16 if args.beam_size is None else args.beam_size
    options = {}
    if hotwords:
        options["hotwords"] = hotwords
        if args.hotword_weight is not None:
            options["hotword_weight"] = args.hotword_weight
    return BeamSearchDecoder.for_model(model, lm=args.lm, alpha=args.alpha, beta=args.beta, beam_size=beam_size,
                                       **options)
