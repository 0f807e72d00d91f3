"""Running espeak-ng: one utterance in, a float32 waveform out (no temporary files)."""

from __future__ import annotations

import functools
import io
import shutil
import subprocess

import numpy as np
import soundfile as sf
import soxr


class EspeakError(RuntimeError):
    pass


@functools.cache
def espeak_binary() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise EspeakError("espeak-ng not found: install it with `apt-get install espeak-ng` (make demo does this)")
    return path


@functools.cache
def available_voices() -> frozenset[str]:
    """Language voices and variants espeak-ng knows, e.g. {'en-us', 'cmn-latn-pinyin', ..., '+m3', '+klatt'}."""
    binary = espeak_binary()
    names: set[str] = set()
    for arg, prefix in (("--voices", ""), ("--voices=variant", "+")):
        out = subprocess.run([binary, arg], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines()[1:]:
            cols = line.split()
            if len(cols) >= 5:
                names.add(prefix + (cols[4].split("/")[-1] if prefix else cols[1]))
    return frozenset(names)


def phonemes(text: str, voice: str) -> str:
    """espeak-ng's phoneme transcription (its ASCII mnemonics, one line per clause) of `text` in `voice`."""
    markup = ["-m"] if text.startswith("<") else []
    run = subprocess.run([espeak_binary(), "-q", "-x", "-v", voice, *markup, "--", text], capture_output=True,
                         timeout=60)
    if run.returncode != 0 or not run.stdout.strip():
        raise EspeakError(f"espeak-ng -x failed for voice {voice!r}, text {text!r}: {run.stderr.decode()[-300:]}")
    return run.stdout.decode()


def speak(text: str, voice: str, speed: int, pitch: int, sample_rate: int, amplitude: int = 100) -> np.ndarray:
    """Waveform of `text` said by `voice` (e.g. 'en-gb+f2') at `sample_rate`, float32 mono.

    The text is passed as one argument (never through a shell); `--` stops option parsing. Text starting
    with "<" is SSML (used to spell words letter by letter)."""
    markup = ["-m"] if text.startswith("<") else []
    cmd = [espeak_binary(), "-v", voice, "-s", str(speed), "-p", str(pitch), "-a", str(amplitude), *markup,
           "--stdout", "--", text]
    run = subprocess.run(cmd, capture_output=True, timeout=60)
    if run.returncode != 0 or not run.stdout:
        raise EspeakError(f"espeak-ng failed for voice {voice!r}, text {text!r}: {run.stderr.decode()[-300:]}")
    audio, sr = sf.read(io.BytesIO(run.stdout), dtype="float32")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    return soxr.resample(audio, sr, sample_rate).astype(np.float32) if sr != sample_rate else audio
