"""Does the model degrade gracefully on a synthesizer it never heard? (evaluation only: never train on this)

    python recipes/harken_en_small/other_engine_check.py --model exp/harken_en_small/model.nemo \
        --manifest data/harken_en_small/test_sentences.json --n 100 --out $RUN_DIR/flite_check

Says the first N test texts with each of flite's voices (`apt-get install flite`), then reports WER/CER and the
number of empty or looping outputs (a word repeated 4+ times in a row where the reference has no such run).
Greedy decoding unless `--lm` or `--beam-size` is given (the options of `harken eval`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path

import harken
from harken.cli.decoding_options import add_decoding_arguments, decoder_from_args
from harken.data.manifest import ManifestEntry, read_manifest, write_manifest
from harken.metrics.evaluate import evaluate

VOICES = ["slt", "rms", "awb", "kal16"]
_LOOP = re.compile(r"\b(\w+)( \1\b){3,}")


def flite_text(text: str, kind: str) -> str:
    """Spelled words are written as spaced capitals, which flite reads as letter names."""
    return text.upper() if kind == "spelled" else text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--out", required=True, type=Path)
    add_decoding_arguments(p)
    args = p.parse_args()
    flite = shutil.which("flite")
    if flite is None:
        raise SystemExit("flite not found: apt-get install flite")
    model = harken.load(args.model)
    decoder = decoder_from_args(args, model)
    entries = read_manifest(args.manifest)[: args.n]
    print("| voice | utterances | WER % | CER % | empty | looping |\n|---|---|---|---|---|---|")
    for voice in VOICES:
        folder = args.out / voice
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for i, e in enumerate(entries):
            wav = folder / f"{i:04d}.wav"
            if not wav.exists():
                said = flite_text(e.text, e.extra.get("kind", ""))
                subprocess.run([flite, "-voice", voice, "-t", said, "-o", str(wav)], check=True, capture_output=True)
            rows.append(ManifestEntry(str(wav), 0.0, e.text))
        manifest = write_manifest(folder / "manifest.json", [{"audio_filepath": r.audio_filepath, "text": r.text,
                                                              "duration": _duration(Path(r.audio_filepath))}
                                                             for r in rows])
        r = evaluate(model, manifest, batch_size=16, decoding=decoder)
        loops = sum(1 for x in r.predictions if _LOOP.search(x["pred_text"]) and not _LOOP.search(x["text"]))
        print(f"| flite {voice} | {r.utterances} | {100 * r.wer:.1f} | {100 * r.cer:.1f} | {r.empty_outputs} "
              f"| {loops} |", flush=True)


def _duration(path: Path) -> float:
    import soundfile as sf

    return round(sf.info(str(path)).duration, 3)


if __name__ == "__main__":
    main()
