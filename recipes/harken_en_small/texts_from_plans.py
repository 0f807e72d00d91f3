"""The training texts of the spell, letters and chains corpora (run.sh stages 6 and 11), without their audio.

    python recipes/harken_en_small/texts_from_plans.py DATA_DIR OUT_DIR   # OUT_DIR/{spell,letters,chains}_texts.json

Why: the word LM (run.sh stage 32) learns from every training transcript, and a corpus's texts follow from its
seed and options alone (`harken.synth.corpus.plan`), so when the corpora are gone (a replaced machine) the LM
can be rebuilt without hours of synthesis: pass these manifests to `harken lm build --manifest` in place of the
corpora's own. Their audio paths name files that were never made; only the texts are meant to be read.
"""

import sys
from pathlib import Path

from harken.data.manifest import ManifestEntry, iter_manifest, write_manifest
from harken.synth.corpus import plan

HERE = Path(__file__).resolve().parent
CORPORA = {  # name: (train, val, seed, sentence share, spell_words, chain_shifts), as run.sh synthesises them
    "spell": (20000, 100, 9, 0.2, 0.0, 0.0),
    "letters": (20000, 400, 10, 0.2, 0.7, 0.0),
    "chains": (24000, 200, 14, 0.3, 0.7, 1.0),
}


def main(data: Path, out: Path) -> None:
    avoid = frozenset(e.text for e in iter_manifest(Path(f"{data}_wide") / "test_manifest.json"))
    out.mkdir(parents=True, exist_ok=True)
    for name, (n_train, n_val, seed, share, spell_words, chain_shifts) in CORPORA.items():
        items = plan({"train": n_train, "val": n_val, "test": 0}, seed, str(HERE / "sentences_extra.txt"), share,
                     "en", "wide", avoid, spell_words, chain_shifts)
        rows = [ManifestEntry(f"{data}_{name}/{it.relpath}", 0.0, it.text) for it in items if it.split == "train"]
        write_manifest(out / f"{name}_texts.json", rows)
        print(f"{out / f'{name}_texts.json'}: {len(rows)} texts")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
