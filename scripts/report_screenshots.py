"""Screenshots of the two result pages for the README: docs/eval_report.png and docs/run_report.png.

    .venv/bin/python scripts/report_screenshots.py [--work DIR] [--steps 150]

About 5 CPU-minutes, most of it training (12 minutes on a busy 2-core machine).
Speaks a small corpus with espeak-ng, trains the quick config on it for a few minutes (`harken train`), writes
its run page (`harken report`), evaluates the shipped model on the corpus's test split (`harken eval
--report`, whose voices training never hears) and renders both pages in headless Chromium
(apt-get install chromium). Look at the pictures before committing them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def harken(work: Path, *args: str) -> None:
    """Run in the work folder with relative paths, so that no path of this machine shows on the pages."""
    print("$ harken " + " ".join(args), flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "harken", *args], check=True, cwd=work, env=env)


def screenshot(page: Path, out: Path, height: int, fragment: str = "") -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={profile}", f"--window-size=1280,{height}", f"--screenshot={out}",
                        page.resolve().as_uri() + fragment], check=True, capture_output=True, timeout=120)
    print(f"screenshot: {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", help="folder for the corpus, run and pages (default: a temporary one)")
    p.add_argument("--steps", type=int, default=150, help="training steps of the run shown")
    p.add_argument("--docs", default=str(ROOT / "docs"), help="where the PNGs go")
    args = p.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} not found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp).resolve()
        make(work, args.steps, Path(args.docs))


def make(work: Path, steps: int, docs: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from harken.synth.corpus import make_corpus

    corpus = make_corpus(work / "corpus", n_train=24, n_val=8, n_test=24, seed=3, progress=False)
    manifest = {split: str(Path(path).relative_to(work)) for split, path in corpus.manifests.items()}
    harken(work, "train", "quick", "--out", "run", "--overwrite", "--no-progress",
           f"model.train_ds.manifest_filepath={manifest['train']}",
           f"model.validation_ds.manifest_filepath={manifest['val']}",
           f"trainer.max_steps={steps}", "trainer.max_epochs=100000", "trainer.log_every_n_steps=1",
           "trainer.check_val_every_n_epoch=10", "trainer.checkpoint_every_n_steps=0")
    harken(work, "report", "run", "--overwrite")
    harken(work, "eval", "--manifest", manifest["test"], "--report", "eval.html", "--overwrite")
    docs.mkdir(parents=True, exist_ok=True)
    screenshot(work / "eval.html", docs / "eval_report.png", 1500, "#sort=wer")
    screenshot(work / "run" / "report.html", docs / "run_report.png", 1250)


if __name__ == "__main__":
    main()
