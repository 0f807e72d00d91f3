"""`harken data synth | prepare | check | shard | report`: the data command group (each action imports lazily)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from harken.cli.safety import positive_int, protect_outputs


def add_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    s = actions.add_parser("synth", help="make a corpus spoken by espeak-ng (and other engines: --engines)")
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
    s.add_argument("--engines", default="espeak", metavar="NAME[:SHARE],...",
                   help="who speaks, by share, e.g. espeak:0.5,hibari:0.2,pico:0.2,kokoro:0.1 (no share: an equal "
                        "part of the rest); engines: espeak, hibari, pico, kokoro, piper. Each keeps test voices "
                        "out of training; piper (an unseen synthesizer) says test utterances only: "
                        "--engines piper --train 0 --val 0 makes a development set. Optional: pip install "
                        "'harken[synth]'")
    s.add_argument("--warp", type=float, default=0.0, metavar="SHARE",
                   help="share of training/validation utterances given a new speaker by WORLD pitch and "
                        "vocal-tract warping (needs pyworld)")

    sc = actions.add_parser("synth-commands", help="speech-commands clips (12 labels) spoken by espeak-ng")
    sc.add_argument("out_dir", help="folder for wav/ and {train,val,test}_manifest.json (re-running resumes)")
    sc.add_argument("--train", type=int, default=3600)
    sc.add_argument("--val", type=int, default=360)
    sc.add_argument("--test", type=int, default=600, help="test clips (voices and backgrounds unseen in training)")
    sc.add_argument("--commands", help="comma-separated command words (default: yes,no,up,...,stop,go)")
    sv = actions.add_parser("synth-vad", help="VAD mixtures (speech, silence, noise, music, babble), frame labels")
    sv.add_argument("out_dir", help="folder for wav/ and {train,val,test}_manifest.json (re-running resumes)")
    sv.add_argument("--train", type=int, default=600)
    sv.add_argument("--val", type=int, default=40)
    sv.add_argument("--test", type=int, default=60, help="test mixtures (voices and backgrounds unseen in training)")
    sv.add_argument("--seconds", type=float, default=8.0, help="length of each mixture")
    sv.add_argument("--frame-shift", type=float, default=0.02, help="seconds per label (MarbleNet's frame: 0.02)")
    for q in (sc, sv):
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--jobs", type=int, default=2, help="espeak-ng processes at once")

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
    sh.add_argument("--shard-size", type=positive_int, default=1000, help="utterances per shard")
    sh.add_argument("--overwrite", action="store_true", help="replace shards and index.json already in OUTDIR")

    r = actions.add_parser("report", help="a self-contained HTML page: players, waveforms, spectrograms, histograms")
    r.add_argument("manifest")
    r.add_argument("out", help="the .html file to write")
    r.add_argument("--sample", type=positive_int, default=20, help="rows to show (picked at random, seeded)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")

    pe = actions.add_parser("perturb", help="a perturbed copy of a test set (noise, reverb, telephone, speed)")
    pe.add_argument("manifest")
    pe.add_argument("outdir")
    pe.add_argument("--spec", required=True,
                    help="perturbations as YAML, e.g. \"{white_noise: {min_snr_db: 10, max_snr_db: 10}}\"")
    pe.add_argument("--seed", type=int, default=0)
    pe.add_argument("--overwrite", action="store_true", help="replace a perturbed copy already in OUTDIR")

    c = actions.add_parser("check", help="validate a manifest: audio, durations, text, duplicates")
    c.add_argument("manifest")
    c.add_argument("--labels", help="allowed characters, e.g. \" abcdefghijklmnopqrstuvwxyz'\"")
    c.add_argument("--model", help="take the labels and sample rate from this .nemo")
    c.add_argument("--sample-rate", type=int, help="expected sample rate")
    c.add_argument("--fix", metavar="OUT", help="write a cleaned manifest here (the original is never touched)")
    c.add_argument("--overwrite", action="store_true", help="let --fix replace an existing file")


def run(args: argparse.Namespace) -> int:
    return {"synth": _synth, "check": _check, "prepare": _prepare, "shard": _shard,
            "report": _report, "perturb": _perturb, "synth-commands": _synth_commands,
            "synth-vad": _synth_vad}[args.action](args)


def _synth_commands(args: argparse.Namespace) -> int:
    from harken.synth.commands import COMMANDS, make_commands

    commands = tuple(w.strip() for w in args.commands.split(",")) if args.commands else COMMANDS
    info = make_commands(args.out_dir, args.train, args.val, args.test, seed=args.seed, jobs=args.jobs,
                         commands=commands)
    for split, path in info.manifests.items():
        print(f"{split:5s} {info.counts[split]:6d} clips  {path}")
    print(f"labels: {' '.join(info.labels)}")
    print(f"voices: {len(info.train_voices)} for train/val, {len(info.test_voices)} held out for test")
    return 0


def _synth_vad(args: argparse.Namespace) -> int:
    from harken.synth.vad_corpus import make_vad_corpus

    info = make_vad_corpus(args.out_dir, args.train, args.val, args.test, seconds=args.seconds, seed=args.seed,
                           frame_shift=args.frame_shift, jobs=args.jobs)
    for split, path in info.manifests.items():
        print(f"{split:5s} {info.counts[split]:6d} mixtures, {info.speech_share[split]:.0%} speech frames  {path}")
    return 0


def _perturb(args: argparse.Namespace) -> int:
    from harken.core.config import parse_yaml
    from harken.data.augment_check import check_augmentor
    from harken.data.perturb_manifest import perturb_manifest

    spec = parse_yaml(args.spec, "--spec")  # bounded like any config: no alias bombs
    check_augmentor(spec, "--spec")  # before any file is looked at
    out = _folder(args.outdir)
    _protect([out / "manifest.json", *sorted((out / "wav").glob("*.wav"))], args.manifest, args.overwrite)
    print(f"wrote {perturb_manifest(args.manifest, out, spec, seed=args.seed)}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from harken.report.html_report import build_report

    _protect([Path(args.out)], args.manifest, args.overwrite, "choose another OUT")
    print(f"wrote {build_report(args.manifest, args.out, sample=args.sample, seed=args.seed)}")
    return 0


def _shard(args: argparse.Namespace) -> int:
    from harken.data.shards import write_shards

    out = _folder(args.outdir)
    old = sorted(out.glob("shard-*.tar"))
    _protect([out / "index.json", *old], args.manifest, args.overwrite)
    shards = write_shards(args.manifest, out, shard_size=args.shard_size)
    for stale in set(old) - set(shards):  # --overwrite: a smaller set of shards leaves none of the old behind
        stale.unlink()
    print(f"{len(shards)} shards in {args.outdir} (index.json lists them); train with train_ds.shards={args.outdir}")
    return 0


def _folder(path: str) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: is a file; give a folder for the outputs")
    return out


def _protect(outputs: list[Path], manifest: str, overwrite: bool, hint: str = "choose another OUTDIR") -> None:
    """Outputs never replace the manifest or its audio (even with --overwrite), nor a file without it."""
    from harken.data.manifest import iter_manifest

    existing = [p for p in outputs if os.path.lexists(p)]
    if existing:  # only then are the audio paths worth reading
        protect_outputs(existing, [manifest], True, hint)
        protect_outputs(existing, [manifest, *(e.audio_filepath for e in iter_manifest(manifest))], overwrite, hint)


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
    from harken.synth.engines import parse_shares

    start = time.time()
    info = make_corpus(args.out_dir, n_train=args.train, n_val=args.val, n_test=args.test, seed=args.seed,
                       jobs=args.jobs, text_file=args.text_file, sentence_share=args.sentence_share,
                       language=args.language, variety=args.variety, avoid_texts=args.avoid_texts,
                       spell_words=args.spell_words, chain_shifts=args.chain_shifts,
                       texts_only=args.texts_only, engines=parse_shares(args.engines), warp=args.warp)
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
