"""The decoding options `transcribe` and `eval` share: greedy by default, beam search with an optional LM."""

from __future__ import annotations

import argparse


def add_decoding_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("decoding (greedy unless --beam-size or --lm is given)")
    g.add_argument("--beam-size", type=int, default=None, help="CTC prefix beam search with this many beams")
    g.add_argument("--lm", help="word n-gram LM in ARPA format (.arpa or .arpa.gz; `harken lm build` makes one): "
                                "build it from text like what is said, words it lacks are penalised and may be dropped")
    g.add_argument("--alpha", type=float, default=0.5, help="LM weight (NeMo's beam_alpha)")
    g.add_argument("--beta", type=float, default=1.0, help="bonus per word (NeMo's beam_beta)")


def decoder_from_args(args: argparse.Namespace, model):
    """None (greedy) or a BeamSearchDecoder for the model's tokens."""
    if args.beam_size is None and not args.lm:
        return None
    from harken.decoding.ctc_beam import BeamSearchDecoder

    beam_size = 16 if args.beam_size is None else args.beam_size
    if beam_size < 1:
        raise ValueError(f"--beam-size must be at least 1, got {beam_size}")
    return BeamSearchDecoder.for_model(model, lm=args.lm, alpha=args.alpha, beta=args.beta, beam_size=beam_size)
