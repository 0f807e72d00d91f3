"""Perturbed copies of a test set (noise at 10 dB, reverberation, telephone band, speed), for robustness
numbers: every utterance gets the perturbation (probability 1), written once as 16 kHz WAV (each file and
the manifest atomically; `harken data perturb` refuses to replace an input or, without --overwrite, a file)."""

from __future__ import annotations

from pathlib import Path

from harken.audio.io import AudioError, load_audio, save_wav
from harken.augment.perturb import Augmentor
from harken.data.augment_check import check_augmentor
from harken.data.manifest import ManifestEntry, iter_manifest, write_manifest


def perturb_manifest(manifest: str | Path, out_dir: str | Path, spec: dict, seed: int = 0,
                     sample_rate: int = 16000) -> Path:
    out_dir = Path(out_dir)
    check_augmentor(spec, "--spec")
    augment = Augmentor({name: {**(opts or {}), "prob": 1.0} for name, opts in spec.items()}, seed=seed)
    rows = []
    for i, e in enumerate(iter_manifest(manifest)):
        try:
            audio = load_audio(e.audio_filepath, sample_rate, offset=e.offset,
                               duration=e.duration if e.offset else None)
        except AudioError as err:
            raise AudioError(f"{e.where}: {err}") from None
        audio = augment(audio, sample_rate)
        path = out_dir / "wav" / f"{i:06d}.wav"
        save_wav(path, audio, sample_rate)
        rows.append(ManifestEntry(str(path.resolve()), round(len(audio) / sample_rate, 3), e.text,
                                  extra={**e.extra, "source": e.audio_filepath}))
    return write_manifest(out_dir / "manifest.json", rows)
