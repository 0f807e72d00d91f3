"""Let glibc keep freed memory for the next allocation instead of returning it to the system.

Why: glibc serves every large request (a FastConformer's subsampling maps, attention scores, their gradients:
tens of MB each) with a fresh mmap and unmaps it on free, so every step pays for the kernel to zero and map
those pages again. On this project's 2-core machine that was most of a small FastConformer's subsampling time
in training (bench/RESULTS.md, "glibc and large tensors"): 1.2-1.6x faster training steps and up to 1.9x faster
batched inference with the heap kept, at up to ~13% more peak memory (the freed pages stay with the process,
as a caching allocator's do). It changes no result.

`harken` commands and `harken.training.run.train` call `reuse_freed_memory()` once; library users may call it
themselves. `HARKEN_KEEP_FREED_MEMORY=0` turns it off; elsewhere than glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)
KEEP_BYTES = 1 << 30  # free memory at the top of the heap kept before glibc gives any back


def reuse_freed_memory() -> bool:
    """Serve large allocations from the heap and keep up to 1 GiB of freed memory for reuse; True if applied."""
    if os.environ.get("HARKEN_KEEP_FREED_MEMORY", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not _glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (ValueError, OSError, AttributeError):  # not a glibc system (or no confstr at all)
        return False
