"""A speech-commands model on a labelled manifest: accuracy, per-label recall, and a confusion-matrix picture.

    python recipes/vad_commands/evaluate_commands.py MODEL.nemo TEST_MANIFEST [--png docs/commands_confusion.png]

Needs matplotlib for --png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import harken
from harken.data.manifest import read_manifest


def confusion(model, rows, batch_size: int = 32) -> np.ndarray:
    """Counts [true label, predicted label] over the manifest's rows."""
    index = {name: i for i, name in enumerate(model.labels)}
    counts = np.zeros((len(index), len(index)), dtype=int)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        for row, c in zip(chunk, model.classify([r.audio_filepath for r in chunk], batch_size=batch_size)):
            counts[index[row.extra["label"]], c.index] += 1
    return counts


def picture(counts: np.ndarray, labels: list[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("said")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if counts[i, j]:
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("manifest")
    ap.add_argument("--png", type=Path, help="write the confusion matrix here")
    args = ap.parse_args()
    model = harken.load(args.model)
    rows = read_manifest(args.manifest)
    counts = confusion(model, rows)
    acc = np.trace(counts) / counts.sum()
    voices = sorted({r.extra.get("voice", "?") for r in rows})
    print(f"{len(rows)} clips, {len(voices)} held-out voices: accuracy {acc:.1%}")
    for name, row in zip(model.labels, counts):
        print(f"  {name:8s} recall {row[model.labels.index(name)] / max(row.sum(), 1):.0%} of {row.sum()}")
    if args.png:
        picture(counts, model.labels, f"{len(rows)} clips, {len(voices)} voices and background kinds unseen in "
                f"training: accuracy {acc:.1%}", args.png)
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
