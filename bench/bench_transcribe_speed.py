"""Short-file transcription speed of this checkout against another harken checkout (e.g. the commit before a
restructure), in one sitting, alternating, same files, same model, same threads.

    git worktree add $RUN_DIR/base <commit>
    .venv/bin/python bench/bench_transcribe_speed.py --manifest $RUN_DIR/conf/test_manifest.json \
        --baseline $RUN_DIR/base [--rounds 5] [--threads 2]

Each round runs `model.transcribe(files, batch_size=8)` (the shipped model, greedy) in a fresh process per
checkout, timing the call only (after loading the model and a warm-up on one file). RTFx = seconds of audio
per wall-clock second; the table gives the median over rounds and the ratio of this checkout to the baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

SNIPPET = r"""
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[2]))
import harken
from harken.data.manifest import read_manifest
files = [e.audio_filepath for e in read_manifest(sys.argv[1])]
secs = sum(e.duration for e in read_manifest(sys.argv[1]))
model = harken.load(str(__import__("harken.pretrained.catalog", fromlist=["x"]).resolve("harken_en_small")))
model.transcribe(files[:1])
t0 = time.perf_counter()
texts = model.transcribe(files, batch_size=8)
wall = time.perf_counter() - t0
print(json.dumps({"rtfx": secs / wall, "wall": wall, "audio": secs, "texts": texts}))
"""


def run(repo: Path, manifest: str, threads: int) -> dict:
    env = {"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", SNIPPET, manifest, str(threads)], env=env, cwd=repo,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True)
    p.add_argument("--baseline", required=True, help="another harken checkout")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    here = Path(__file__).resolve().parents[1]
    results: dict[str, list[float]] = {"baseline": [], "this": []}
    texts = {}
    for r in range(args.rounds):
        for name, repo in (("baseline", Path(args.baseline)), ("this", here)):
            res = run(repo, args.manifest, args.threads)
            results[name].append(res["rtfx"])
            texts[name] = res["texts"]
            print(f"round {r + 1} {name}: RTFx {res['rtfx']:.1f} "
                  f"({res['audio']:.0f} s of audio in {res['wall']:.2f} s)")
    same = texts["baseline"] == texts["this"]
    base, this = statistics.median(results["baseline"]), statistics.median(results["this"])
    print(f"\n| checkout | RTFx (median of {args.rounds}) | rounds |")
    print("|---|---|---|")
    print(f"| baseline | {base:.1f} | {', '.join(f'{x:.0f}' for x in results['baseline'])} |")
    print(f"| this | {this:.1f} | {', '.join(f'{x:.0f}' for x in results['this'])} |")
    print(f"\nratio this/baseline: {this / base:.3f}; identical texts: {same}")


if __name__ == "__main__":
    main()
