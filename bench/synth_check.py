"""`harken data synth` at size: speed, determinism across runs, and resume after a kill (run by hand).

    .venv/bin/python bench/synth_check.py [--train 2000] [--language en] [--table bench/RESULTS.md]

Makes the corpus twice into two folders and compares the sha256 of every manifest and wav; then starts a
third run, kills it part-way (SIGKILL), runs it again and checks it equals the first.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def digest(folder: Path) -> dict[str, str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".wav", ".json"))
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def synth(out: Path, args: argparse.Namespace) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "harken", "data", "synth", str(out), "--train", str(args.train), "--val",
           str(args.val), "--test", str(args.test), "--language", args.language, "--jobs", "2"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--val", type=int, default=100)
    p.add_argument("--test", type=int, default=200)
    p.add_argument("--language", default="en")
    p.add_argument("--table", default=str(Path(__file__).parent / "RESULTS.md"))
    args = p.parse_args()
    total = args.train + args.val + args.test
    with tempfile.TemporaryDirectory() as tmp:
        a, b, c = (Path(tmp) / x for x in "abc")
        start = time.time()
        out = synth(a, args).communicate()[0]
        seconds = time.time() - start
        synth(b, args).communicate()
        same = digest(a) == digest(b)
        killed = synth(c, args)
        while len(list((c / "wav").rglob("*.wav")) if (c / "wav").exists() else []) < total // 2:
            time.sleep(0.2)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        partial = len(list((c / "wav").rglob("*.wav")))
        synth(c, args).communicate()
        resumed = digest(c) == digest(a)
        hours = [line for line in out.splitlines() if " utterances " in line]
    verdict = "identical" if resumed else "DIFFERENT"
    line = (f"| {time.strftime('%Y-%m-%d')} | {args.language} | {total} | {seconds:.1f} s "
            f"({total / seconds:.0f} utt/s) | {'yes' if same else 'NO'} | killed at {partial} files, resumed: "
            f"{verdict} | `python bench/synth_check.py {' '.join(sys.argv[1:])}` |\n")
    print("\n".join(hours))
    print(line)
    table = Path(args.table)
    text = table.read_text()
    header = "\n## Synthetic corpus (`harken data synth`): speed, determinism, resume\n\n" \
             "| date | language | utterances | time (2 jobs) | two runs byte-identical | kill + resume | command |\n" \
             "|---|---|---|---|---|---|---|\n"
    if header not in text:
        text += header
    table.write_text(text.replace(header, header + line))


if __name__ == "__main__":
    main()
