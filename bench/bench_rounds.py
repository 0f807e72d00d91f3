"""What the side-by-side benchmarks (bench_speed.py, bench_runtime.py) share: child processes that time calls
and say how much CPU other processes took meanwhile, quiet-machine waits, and median-and-range summaries.

Disturbed calls are found by CPU accounting, not the load average (a one-minute moving average that cannot say
which call was disturbed): around each timed call the child reads the CPU time all CPUs were busy
(/proc/stat, steal included) and its own CPU time (getrusage); the difference divided by the wall time is the
number of cores OTHER processes used during that call ("foreign cores"). A call with more than
`max_foreign` (0.15 by default) is dropped; a round (one child) keeps the median of its clean calls, and a round
with fewer than half its calls clean is dropped as disturbed. Reported: the median of the kept rounds, their
range, and how many rounds were kept.

Peak RSS is the child's VmHWM (/proc/self/status), not ru_maxrss: Linux keeps the larger of the parent's peak
at fork and the child's own in ru_maxrss across exec, so a parent that imported torch would inflate it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

RESULT = "@@RESULT@@"

# the start of every child's code (it runs in harken's venv or in NeMo's, so it imports neither)
CHILD_PRELUDE = r"""
import json, os, resource, sys, time
job = json.loads(sys.argv[1])
_CLK = os.sysconf("SC_CLK_TCK")

def busy_and_own():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / _CLK, ru.ru_utime + ru.ru_stime

def peak_mb():
    # VmHWM, this process's own peak: ru_maxrss would carry the parent's peak over fork and exec
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024.0

def timed_calls(fn, reps, warmup=1):
    # [(seconds, foreign cores)] of `reps` calls after `warmup` untimed ones
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        b0, o0 = busy_and_own()
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        b1, o1 = busy_and_own()
        out.append((dt, max(0.0, (b1 - b0) - (o1 - o0)) / dt))
    return out

def done(result):
    print("@@RESULT@@" + json.dumps(result), flush=True)

T_START = time.time()
_B0, _O0 = busy_and_own()

def foreign_since_start():
    # cores other processes used since this child started (for once-per-process times such as a cold start)
    b, o = busy_and_own()
    return max(0.0, (b - _B0) - (o - _O0)) / max(1e-9, time.time() - T_START)
"""


def busy_seconds() -> float:
    """CPU-seconds all CPUs have been busy (steal included), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def wait_quiet(threshold: float, longest: float) -> float:
    """Wait (at most `longest` s) until all processes together use fewer than `threshold` cores; seconds waited."""
    waited = 0.0
    while True:
        b0 = busy_seconds()
        time.sleep(1)
        if (busy_seconds() - b0) < threshold or waited >= longest:
            return waited
        time.sleep(4)
        waited += 5


def run_child(python: str, code: str, job: dict, threads: int, cwd: str | None = None,
              env_extra: dict | None = None) -> dict:
    """Run CHILD_PRELUDE + `code` with `job` in a fresh process of `python` (thread variables set to `threads`,
    and `env_extra`); its result dict, with `launched` (the parent's clock at Popen) and `process_s` added."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false", **(env_extra or {})}
    env.pop("PYTHONPATH", None)
    launched = time.time()
    run = subprocess.run([python, "-c", CHILD_PRELUDE + code, json.dumps({**job, "threads": threads})],
                         capture_output=True, text=True, env=env, cwd=cwd)
    lines = [line for line in run.stdout.splitlines() if line.startswith(RESULT)]
    if run.returncode != 0 or not lines:
        sys.exit(f"child {python} failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
    result = json.loads(lines[-1][len(RESULT):])
    result.update(launched=launched, process_s=time.time() - launched)
    return result


def round_value(calls: Sequence[Sequence[float]], audio_s: float, max_foreign: float) -> float | None:
    """A round's RTFx (audio seconds / median clean call seconds), or None when under half its calls are clean."""
    clean = [dt for dt, foreign in calls if foreign <= max_foreign]
    if len(clean) * 2 < len(calls):
        return None
    return audio_s / statistics.median(clean)


def summary(values: Sequence[float | None], fmt: str = "{:.1f}") -> str:
    """`median (low-high, k/n rounds)` of the rounds that were kept (None = discarded)."""
    kept = [v for v in values if v is not None]
    if not kept:
        return f"disturbed (0/{len(values)} rounds)"
    spread = f"{fmt.format(min(kept))}-{fmt.format(max(kept))}, " if len(kept) > 1 else ""
    return f"{fmt.format(statistics.median(kept))} ({spread}{len(kept)}/{len(values)} rounds)"


def median_kept(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def rotated(sides: Sequence[str], round_index: int) -> list[str]:
    """The sides in turn, each round starting one further, so no side always runs first (or right after NeMo)."""
    k = round_index % len(sides)
    return [*sides[k:], *sides[:k]]


def append_block(path: str, text: str) -> None:
    """--append FILE: add a finished table at the end of FILE (never by default)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n" + text.rstrip("\n") + "\n")
    print(f"appended to {path}")
