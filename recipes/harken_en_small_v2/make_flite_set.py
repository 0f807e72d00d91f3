"""An evaluation set spoken by flite, a synthesizer never trained on (`apt-get install flite`; never train on it).

    python recipes/harken_en_small_v2/make_flite_set.py --manifest EVAL/espeak/test_manifest.json --n 200 \
        --out EVAL/flite

The first N texts of the held-out espeak-ng test set (so every evaluation set says the same texts), each said by
one of flite's voices in turn (slt, rms, awb, kal16). Spelled items are written as spaced capitals, which flite
reads as letter names (as in recipes/harken_en_small/other_engine_check.py). Re-running keeps the wavs already
made; each is written under a temporary name and renamed, so an interrupted run leaves no half file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

import soundfile as sf

from harken.data.manifest import ManifestEntry, read_manifest, write_manifest

VOICES = ["slt", "rms", "awb", "kal16"]


def flite_text(text: str, kind: str) -> str:
    """Spelled words as spaced capitals: flite says "B O B" as letters and "bob" as a word."""
    return text.upper() if kind == "spelled" else text


def make(manifest: Path, n: int, out: Path, flite: str) -> Path:
    """Speak the first n texts of `manifest` into out/wav/, return out/manifest.json."""
    (out / "wav").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, e in enumerate(read_manifest(manifest)[:n]):
        voice, kind = VOICES[i % len(VOICES)], e.extra.get("kind", "")
        wav = out / "wav" / f"{i:05d}.wav"
        if not wav.exists():
            tmp = wav.with_suffix(".tmp.wav")
            subprocess.run([flite, "-voice", voice, "-t", flite_text(e.text, kind), "-o", str(tmp)], check=True,
                           capture_output=True)
            os.replace(tmp, wav)
        rows.append(ManifestEntry(f"wav/{wav.name}", round(sf.info(str(wav)).duration, 3), e.text,
                                  extra={"voice": f"flite:{voice}", "kind": kind}))
    return write_manifest(out / "manifest.json", rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True, type=Path, help="texts to say (the espeak-ng test manifest)")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args()
    flite = shutil.which("flite")
    if flite is None:
        raise SystemExit("make_flite_set.py: error: flite not found (apt-get install flite)")
    if not args.manifest.is_file():
        raise SystemExit(f"make_flite_set.py: error: {args.manifest}: no such manifest (run.sh stage 1 makes it)")
    print(f"{make(args.manifest, args.n, args.out, flite)}: {args.n} utterances")


if __name__ == "__main__":
    main()
