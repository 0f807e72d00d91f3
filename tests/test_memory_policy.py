"""harken.core.memory: large freed blocks stay with the process for the next allocation (glibc), and the switch
that turns it off. Each case runs in a fresh interpreter: the allocator policy is process-wide."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = r"""
import ctypes, json, sys
from harken.core.memory import reuse_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
applied = reuse_freed_memory()
block = libc.malloc(64 << 20)                 # 64 MiB: far above glibc's default mmap threshold
mapped_while_held = libc.mallinfo2().hblkhd   # bytes in mmapped blocks
libc.free(block)
print(json.dumps({"applied": applied, "mapped": mapped_while_held, "kept_free": libc.mallinfo2().fordblks}))
"""


def _probe(**env: str) -> dict:
    import json

    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"),
                    reason="the policy is glibc's")
def test_large_blocks_come_from_the_heap_and_stay_for_reuse():
    kept = _probe()
    assert kept["applied"] is True
    assert kept["mapped"] < 64 << 20  # served from the heap, not mmap (earlier small maps aside) ...
    assert kept["kept_free"] >= 64 << 20  # ... and, freed, still the process's to hand out again
    default = _probe(HARKEN_KEEP_FREED_MEMORY="0")
    assert default["applied"] is False
    assert default["mapped"] >= 64 << 20 and default["kept_free"] < 64 << 20  # glibc's own way: mapped, unmapped
