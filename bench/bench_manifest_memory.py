"""Memory stays flat with manifest size: stream a 1M-line manifest and report peak RSS growth.

    .venv/bin/python bench/bench_manifest_memory.py [--lines 1000000]

Writes a synthetic manifest (no audio needed: only the reading path is measured), then iterates it with
`iter_manifest` (what shards, `data check` and `data shard` use) and records peak RSS before and after.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from harken.data.manifest import iter_manifest


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lines", type=int, default=1_000_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.json"
        with path.open("w") as f:
            for i in range(args.lines):
                f.write(json.dumps({"audio_filepath": f"audio/{i:07d}.wav", "duration": 1.0 + i % 17,
                                    "text": "the quick brown fox jumps over the lazy dog"}) + "\n")
        size_mb = path.stat().st_size / 2**20
        before = peak_rss_mb()
        start, n, hours = time.time(), 0, 0.0
        for e in iter_manifest(path):
            n += 1
            hours += e.duration / 3600
        after = peak_rss_mb()
    print(f"{n} lines ({size_mb:.0f} MB, {hours:.0f} h) streamed in {time.time() - start:.1f} s; "
          f"peak RSS {before:.0f} MB before, {after:.0f} MB after (+{after - before:.1f} MB)")


if __name__ == "__main__":
    main()
