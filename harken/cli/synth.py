"""harken synth OUT_DIR [--train N] [--val N] [--test N] [--seed S] [--jobs J]"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", help="folder for wav/ and {train,val,test}_manifest.json (re-running resumes)")
    p.add_argument("--train", type=int, default=1200, help="training utterances")
    p.add_argument("--val", type=int, default=100, help="validation utterances (training voices, other texts)")
    p.add_argument("--test", type=int, default=150, help="test utterances (voices never used in training)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="espeak-ng processes at once")


def run(args: argparse.Namespace) -> int:
    from harken.synth.corpus import make_corpus

    info = make_corpus(args.out_dir, n_train=args.train, n_val=args.val, n_test=args.test, seed=args.seed,
                       jobs=args.jobs)
    for split, path in info.manifests.items():
        print(f"{split:5s} {info.counts[split]:6d} utterances {info.hours[split]:7.3f} h  {path}")
    print(f"train voices ({len(info.train_voices)}): {', '.join(info.train_voices)}")
    print(f"test voices ({len(info.test_voices)}, unseen in training): {', '.join(info.test_voices)}")
    print(f"test texts also in training: {info.text_overlap:.0%}")
    return 0
