"""`harken data synth | prepare | check | shard | report`: the data command group (each action imports lazily)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    s = actions.add_parser("synth", help="make a corpus spoken by espeak-ng")
    s.add_argument("out_dir", help="folder for wav/ and {train,val,test}_manifest.json (re-running resumes)")
    s.add_argument("--train", type=int, default=1200, help="training utterances")
    s.add_argument("--val", type=int, default=100, help="validation utterances (training voices, other texts)")
    s.add_argument("--test", type=int, default=150, help="test utterances (voices never used in training)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--jobs", type=int, default=2, help="espeak-ng processes at once")
    s.add_argument("--text-file", help="also speak sentences from this file (numbers and symbols written out)")
    s.add_argument("--sentence-share", type=float, default=0.5, help="share of utterances drawn from --text-file")
    s.add_argument("--language", default="en", choices=["en", "cmn"], help="cmn: Mandarin, Chinese characters")
    s.add_argument("--avoid-texts", nargs="+", default=[], metavar="MANIFEST",
                   help="never say the texts of these manifests (e.g. another corpus's test set)")
    s.add_argument("--spell-words", type=float, default=0.0, metavar="SHARE",
                   help="share of spelled items that spell a word of --text-file instead of a name or city")
    s.add_argument("--chain-shifts", type=float, default=0.0, metavar="SHARE",
                   help="share of simulated accents (--variety wide) that move vowels in a chain, as real ones do")
    s.add_argument("--texts-only", action="store_true",
                   help="write {split}_texts.json with the planned texts and no audio (e.g. for `harken lm build`)")
    s.add_argument("--variety", default="standard", choices=["standard", "wide"],
                   help="wide: training voices from every espeak-ng variant, wider rate/pitch, simulated accents")

    pr = actions.add_parser("prepare", help="public corpora (an4, librispeech, speech_commands, commonvoice, "
                                            "kaldi, folder) -> NeMo manifests")
    pr.add_argument("kind", choices=["an4", "librispeech", "speech_commands", "commonvoice", "kaldi", "folder"])
    pr.add_argument("src", help="the corpus: a folder, an archive, or an http(s)/file URL (downloads resume)")
    pr.add_argument("dst", help="output folder for manifests (and converted audio)")
    pr.add_argument("--sha256", help="expected checksum of a downloaded archive")
    pr.add_argument("--classes", default="all", choices=["all", "10+2"], help="speech_commands only")
    pr.add_argument("--overwrite", action="store_true", help="replace manifests already in DST")

    sh = actions.add_parser("shard", help="write WebDataset-style tar shards of a manifest for streaming")
    sh.add_argument("manifest")
    sh.add_argument("outdir")
    sh.add_argument("--shard-size", type=int, default=1000, help="utterances per shard")

    r = actions.add_parser("report", help="a self-contained HTML page: players, waveforms, spectrograms, histograms")
    r.add_argument("manifest")
    r.add_argument("out", help="the .html file to write")
    r.add_argument("--sample", type=int, default=20, help="rows to show (picked at random, seeded)")
    r.add_argument("--seed", type=int, default=0)

    pe = actions.add_parser("perturb", help="a perturbed copy of a test set (noise, reverb, telephone, speed)")
    pe.add_argument("manifest")
    pe.add_argument("outdir")
    pe.add_argument("--spec", required=True,
                    help="perturbations as YAML, e.g. \"{white_noise: {min_snr_db: 10, max_snr_db: 10}}\"")
    pe.add_argument("--seed", type=int, default=0)

    c = actions.add_parser("check", help="validate a manifest: audio, durations, text, duplicates")
    c.add_argument("manifest")
    c.add_argument("--labels", help="allowed characters, e.g. \" abcdefghijklmnopqrstuvwxyz'\"")
    c.add_argument("--model", help="take the labels and sample rate from this .nemo")
    c.add_argument("--sample-rate", type=int, help="expected sample rate")
    c.add_argument("--fix", metavar="OUT", help="write a cleaned manifest here (the original is never touched)")
    c.add_argument("--overwrite", action="store_true", help="let --fix replace an existing file")


def run(args: argparse.Namespace) -> int:
    return {"synth": _synth, "check": _check, "prepare": _prepare, "shard": _shard,
            "report": _report, "perturb": _perturb}[args.action](args)


def _perturb(args: argparse.Namespace) -> int:
    from harken.core.config import parse_yaml
    from harken.data.perturb_manifest import perturb_manifest

    spec = parse_yaml(args.spec, "--spec")  # bounded like any config: no alias bombs
    if not isinstance(spec, dict):
        raise ValueError(f"--spec {args.spec!r}: expected a mapping of perturbation -> options")
    print(f"wrote {perturb_manifest(args.manifest, args.outdir, spec, seed=args.seed)}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from harken.report.html_report import build_report

    print(f"wrote {build_report(args.manifest, args.out, sample=args.sample, seed=args.seed)}")
    return 0


def _shard(args: argparse.Namespace) -> int:
    from harken.data.shards import write_shards

    shards = write_shards(args.manifest, args.outdir, shard_size=args.shard_size)
    print(f"{len(shards)} shards in {args.outdir} (index.json lists them); train with train_ds.shards={args.outdir}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from harken.data.manifest import read_manifest
    from harken.data.prepare import prepare

    options = {"classes": args.classes} if args.kind == "speech_commands" else {}
    made = prepare(args.kind, args.src, args.dst, sha256=args.sha256, overwrite=args.overwrite, **options)
    for split, path in made.items():
        rows = read_manifest(path)
        print(f"{split:10s} {len(rows):7d} rows {sum(e.duration for e in rows) / 3600:8.3f} h  {path}")
    return 0


def _synth(args: argparse.Namespace) -> int:
    import time

    from harken.synth.corpus import make_corpus

    start = time.time()
    info = make_corpus(args.out_dir, n_train=args.train, n_val=args.val, n_test=args.test, seed=args.seed,
                       jobs=args.jobs, text_file=args.text_file, sentence_share=args.sentence_share,
                       language=args.language, variety=args.variety, avoid_texts=args.avoid_texts,
                       spell_words=args.spell_words, chain_shifts=args.chain_shifts,
                       texts_only=args.texts_only)
    total = sum(info.counts.values())
    if args.texts_only:
        print(f"{total} utterances planned, texts only (no audio made)")
    else:
        print(f"{total} utterances in {time.time() - start:.1f} s ({total / (time.time() - start):.0f} per second; "
              "finished files from an earlier run are reused)")
    for split, path in info.manifests.items():
        print(f"{split:5s} {info.counts[split]:6d} utterances {info.hours[split]:7.3f} h  {path}")
    print(f"train voices ({len(info.train_voices)}): {', '.join(info.train_voices)}")
    print(f"test voices ({len(info.test_voices)}, unseen in training): {', '.join(info.test_voices)}")
    print(f"test texts also in training: {info.text_overlap:.0%}")
    if args.avoid_texts:
        print(f"utterances saying an avoided text (closed command list excepted): {info.avoided_said}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from harken.data.check import check_manifest, fix, fix_target

    if args.fix:
        fix_target(args.fix, args.manifest, args.overwrite)
    labels, rate = (list(args.labels) if args.labels else None), args.sample_rate
    if args.model:
        import harken

        model = harken.load(args.model)
        labels, rate = labels or list(model.labels), rate or model.sample_rate
    report = check_manifest(args.manifest, labels=labels, sample_rate=rate, progress=True)
    for line in report.lines():
        print(line)
    print(report.summary())
    if args.fix:
        print(f"cleaned manifest ({len(report.clean)} rows): {fix(report, args.fix, overwrite=args.overwrite)}")
    return 1 if report.errors and not args.fix else 0
