"""SVOX Pico (through py-nanotts): small HMM voices, American and British, with their own rate and pitch
controls. Pico reads some memory it never wrote (fresh mallocs), so its audio varied slightly from call to call
with whatever the heap held. While it runs, glibc is asked to fill new blocks with a fixed byte (M_PERTURB) and
to serve large ones from fresh zeroed pages (a fixed mmap threshold): the same text, the same audio."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from contextlib import contextmanager

import numpy as np

from harken.synth.engines.base import Engine, require

RATE = 16000  # py-nanotts returns 16-bit PCM at 16 kHz
M_MMAP_THRESHOLD, M_PERTURB = -3, -6  # glibc mallopt parameters
FILL = 0x5A
_LOCK = threading.Lock()


@functools.cache
def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        return libc if hasattr(libc, "mallopt") else None
    except OSError:
        return None


@contextmanager
def defined_heap():
    """Blocks allocated inside hold a fixed byte (large ones: zeroed pages); one Pico call at a time. The
    setting is process-wide, so other threads' blocks get the fill too meanwhile: a memset, harmless."""
    libc = _glibc()
    with _LOCK:
        if libc is None:  # not glibc: nothing known to fix
            yield
            return
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)  # glibc's default, without its adaptive growth
        libc.mallopt(M_PERTURB, FILL)
        try:
            yield
        finally:
            libc.mallopt(M_PERTURB, 0)


class Pico(Engine):
    name = "pico"
    train_voices = ("en-US",)
    test_voices = ("en-GB",)  # two voices only: the British one is kept for testing
    speed_range = (0.8, 1.25)
    pitch_range = (0.8, 1.25)
    licence = "Apache-2.0 (py-nanotts, SVOX Pico lingware)"

    def __init__(self) -> None:
        super().__init__()
        self._tts = require("py_nanotts", self.name, "py-nanotts").NanoTTS()

    def _synthesize(self, text: str, voice: str, seed: int, speed: float, pitch: float) -> tuple[np.ndarray, int]:
        if "<" in text or ">" in text:  # py-nanotts crashes the process on some of Pico's markup (<spell>)
            raise ValueError(f"pico: markup is not supported, plain text only: {text!r}")
        with defined_heap():
            pcm = self._tts.speak(text, voice=voice, speed=speed, pitch=pitch)
        return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0, RATE
