"""`make demo`: NeMo's AN4 tutorial as one job, on a corpus spoken by espeak-ng.

    1. synthesise a small corpus (spelled names and cities, digit strings, commands; test voices unseen)
    2. train the `quick` config with a progress bar
    3. print the test WER/CER, transcribe a few test files
    4. save the model as .nemo
    5. the same test set with harken's shipped English model (`harken_en_small`, no training needed)

Re-running continues where it stopped: the corpus is reused and training resumes from its last checkpoint.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import harken
from harken.configs import load_named_config
from harken.core.config import apply_overrides
from harken.data.manifest import read_manifest
from harken.metrics.evaluate import evaluate
from harken.pretrained.catalog import DEFAULT_MODEL
from harken.synth.corpus import make_corpus
from harken.training.run import train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/demo", help="work folder (corpus, run, model)")
    p.add_argument("--train", type=int, default=3000, help="training utterances")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("overrides", nargs="*", help="config overrides, e.g. trainer.max_epochs=5")
    args = p.parse_args()
    out = Path(args.out)
    start = time.time()

    print("== 1/5 corpus (espeak-ng)")
    info = make_corpus(out / "corpus", n_train=args.train, n_val=100, n_test=150, seed=0, jobs=2, progress=True)
    for split in ("train", "val", "test"):
        print(f"   {split:5s} {info.counts[split]:5d} utterances  {info.hours[split] * 60:6.1f} min")
    accents = sorted({v.split("+")[0] for v in info.train_voices})
    print(f"   train voices: {len(info.train_voices)} ({len(accents)} accents: {', '.join(accents)}; with variants)")
    print(f"   test voices (unseen in training): {', '.join(info.test_voices)}")
    print(f"   test texts also in training: {info.text_overlap:.0%}")

    print("== 2/5 training the `quick` config")
    cfg = load_named_config("quick")
    cfg = apply_overrides(cfg, [
        f"model.train_ds.manifest_filepath={info.manifests['train']}",
        f"model.validation_ds.manifest_filepath={info.manifests['val']}",
        f"trainer.max_epochs={args.epochs}",
        *args.overrides,
    ])
    run_dir = out / "quick"
    resume = (run_dir / "checkpoints" / "last.ckpt").exists() and not (run_dir / "model.nemo").exists()
    if resume:
        print(f"   resuming from {run_dir / 'checkpoints' / 'last.ckpt'}")
    nemo = run_dir / "model.nemo"
    if not nemo.exists():
        nemo = train(cfg, out=str(run_dir), resume=resume, overwrite=not resume, progress=True)  # the demo's own run
    else:
        print(f"   already trained: {nemo} (delete it to train again)")

    print("== 3/5 test set (voices never heard in training)")
    model = harken.load(str(nemo))
    result = evaluate(model, info.manifests["test"], batch_size=16, progress=True)
    print(result.table())

    print("== 4/5 transcribing a few test files")
    entries = read_manifest(info.manifests["test"])[:6]
    for entry, text in zip(entries, model.transcribe([e.audio_filepath for e in entries])):
        name = Path(entry.audio_filepath).name
        print(f"   {name}  ref: {entry.text!r}\n   {'':{len(name)}}  hyp: {text!r}")
    print(f"model saved: {nemo}")

    print(f"== 5/5 the shipped model ({DEFAULT_MODEL}, recipes/{DEFAULT_MODEL}) on the same test set")
    shipped = harken.from_pretrained(DEFAULT_MODEL)
    print(evaluate(shipped, info.manifests["test"], batch_size=16, progress=True).table())
    for entry, text in zip(entries, shipped.transcribe([e.audio_filepath for e in entries])):
        name = Path(entry.audio_filepath).name
        print(f"   {name}  ref: {entry.text!r}\n   {'':{len(name)}}  hyp: {text!r}")
    print(f"({(time.time() - start) / 60:.1f} min in all)")
    print(f"try: .venv/bin/harken transcribe {entries[0].audio_filepath}            (shipped model)")
    print(f"     .venv/bin/harken transcribe {entries[0].audio_filepath} --model {nemo}")


if __name__ == "__main__":
    main()
