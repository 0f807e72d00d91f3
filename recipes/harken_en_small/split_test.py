"""Split the synthetic test manifest by what is said: AN4-style (spelled letters, digits, commands) and
open-vocabulary book sentences, so each gets its own WER.

    python recipes/harken_en_small/split_test.py DATA/test_manifest.json
    # -> DATA/test_spelled.json, DATA/test_sentences.json
"""

from __future__ import annotations

import sys
from pathlib import Path

from harken.data.manifest import read_manifest, write_manifest


def main(manifest: str) -> None:
    path = Path(manifest)
    entries = read_manifest(path)
    groups = {"sentences": [e for e in entries if e.extra.get("kind") == "sentence"],
              "spelled": [e for e in entries if e.extra.get("kind") != "sentence"]}
    for name, rows in groups.items():
        for e in rows:  # read_manifest made the paths absolute; keep them relative to the folder
            e.audio_filepath = str(Path(e.audio_filepath).relative_to(path.parent.resolve()))
        out = write_manifest(path.parent / f"test_{name}.json", rows)
        print(f"{out}: {len(rows)} utterances")


if __name__ == "__main__":
    main(sys.argv[1])
