"""VAD training audio spoken by espeak-ng: utterances with gaps of silence, noise, music-like tones and babble
between them, over a background bed, with one speech/non-speech label per frame in NeMo's frame-VAD layout.

Each clip is planned from the seed (utterances, voices, gaps and what fills them, the bed and its SNR), then
rendered. A frame (20 ms by default, MarbleNet's frame) is speech when the speech alone is within 30 dB of its
utterance's loudest frame; pauses under 0.2 s inside an utterance count as speech, as in hand-made labels.
Finished wavs are kept, so a killed run resumes; the manifest is written at the end. The test split has
held-out voices and background kinds (backgrounds.TEST_KINDS), so it measures a VAD on sounds it never
trained on.

    out/wav/{train,val,test}/00000.wav
    out/{train,val,test}_manifest.json   {"audio_filepath", "duration", "offset": 0, "label": "0 0 1 1 ...", ...}
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from harken.audio.io import save_wav
from harken.core.atomic import atomic_write_text
from harken.data.manifest import ManifestEntry, write_manifest
from harken.synth.backgrounds import TEST_KINDS, TRAIN_KINDS, at_snr, background
from harken.synth.commands import voice_pools
from harken.synth.corpus import claim
from harken.synth.espeak import speak
from harken.synth.texts import sample_text

SPLITS = ("train", "val", "test")
MAX_UTTERANCES = 6
FILL_PAUSE = 0.2  # seconds: shorter pauses inside an utterance are labelled speech
MIN_SPEECH = 0.06  # seconds: shorter bursts above the floor are not


@dataclass(frozen=True)
class Utterance:
    spoken: str
    voice: str
    speed: int
    pitch: int
    level_db: float  # speech level relative to the clip's reference
    gap: float  # seconds of non-speech before it
    gap_fill: str  # "" (the bed only) or a background kind
    gap_fill_db: float  # the filler's level relative to the speech


@dataclass(frozen=True)
class Mixture:
    split: str
    index: int
    seconds: float
    utterances: tuple[Utterance, ...]
    bed: str  # "" for none
    bed_snr_db: float

    @property
    def relpath(self) -> str:
        return f"wav/{self.split}/{self.index:05d}.wav"


@dataclass
class VADCorpusInfo:
    out_dir: Path
    manifests: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    speech_share: dict[str, float] = field(default_factory=dict)


def plan(n: dict[str, int], seed: int, seconds: float = 8.0) -> list[Mixture]:
    train_voices, test_voices = voice_pools()
    mixtures = []
    for split in SPLITS:
        rng = np.random.default_rng([seed, SPLITS.index(split), 53])
        pool, kinds = (test_voices, TEST_KINDS) if split == "test" else (train_voices, TRAIN_KINDS)
        for i in range(n[split]):
            count = 0 if rng.random() < 0.08 else int(rng.integers(1, MAX_UTTERANCES + 1))
            utts = tuple(Utterance(sample_text(rng)[1], str(pool[int(rng.integers(len(pool)))]),
                                   int(rng.integers(120, 230)), int(rng.integers(20, 80)),
                                   round(float(rng.uniform(-12, 0)), 1), round(float(rng.exponential(0.8)) + 0.1, 2),
                                   str(rng.choice(kinds)) if rng.random() < 0.5 else "",
                                   round(float(rng.uniform(-20, 0)), 1)) for _ in range(count))
            bed = str(rng.choice([k for k in kinds if k != "babble"])) if rng.random() < 0.7 else ""
            mixtures.append(Mixture(split, i, seconds, utts, bed, round(float(rng.uniform(10, 40)), 1)))
    return mixtures


def speech_frames(speech: np.ndarray, sr: int, shift: float, floor_db: float = -30.0) -> np.ndarray:
    """0/1 per frame of one utterance: energy within floor_db of its loudest frame, short pauses filled."""
    hop = int(round(shift * sr))
    n = -(-len(speech) // hop)
    frames = np.pad(speech, (0, n * hop - len(speech))).reshape(n, hop)
    energy = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    on = energy > energy.max() + floor_db
    _fill_runs(on, False, int(FILL_PAUSE / shift), inner_only=True)
    _fill_runs(on, True, int(MIN_SPEECH / shift))
    return on.astype(np.int8)


def _fill_runs(mask: np.ndarray, value: bool, shorter_than: int, inner_only: bool = False) -> None:
    """Flip runs of `value` shorter than `shorter_than` frames (inner_only: not those touching an end)."""
    t = 0
    while t < len(mask):
        if mask[t] != value:
            t += 1
            continue
        end = t
        while end < len(mask) and mask[end] == value:
            end += 1
        if end - t < shorter_than and not (inner_only and (t == 0 or end == len(mask))):
            mask[t:end] = not value
        t = end


def render(mix: Mixture, out_dir: Path, seed: int, sr: int, shift: float, babble: list[np.ndarray]) -> np.ndarray:
    """Write the mixture's wav and labels (kept beside it as text) unless both exist; returns the labels."""
    path, label_path = out_dir / mix.relpath, (out_dir / mix.relpath).with_suffix(".label")
    if path.exists() and label_path.exists():
        return np.array(label_path.read_text().split(), dtype=np.int8)
    rng = np.random.default_rng([seed, SPLITS.index(mix.split), mix.index, 7])
    n = int(mix.seconds * sr)
    hop = int(round(shift * sr))
    speech, rest = np.zeros(n, np.float32), np.zeros(n, np.float32)
    labels = np.zeros(n // hop, np.int8)
    reference = 0.1  # RMS of a 0 dB utterance
    t = 0
    for u in mix.utterances:
        t += int(u.gap * sr)
        if t >= n:
            break
        wave = speak(u.spoken, u.voice, u.speed, u.pitch, sr)
        wave = wave / (np.sqrt(np.mean(wave ** 2)) + 1e-9) * reference * 10 ** (u.level_db / 20)
        if u.gap_fill and u.gap > 0.2:
            gap = int(u.gap * sr)
            level = reference * 10 ** ((u.level_db + u.gap_fill_db) / 20)
            fade = np.minimum(1, np.minimum(np.arange(gap), np.arange(gap)[::-1]) / (0.02 * sr))  # 20 ms ramps
            rest[t - gap:t] += background(u.gap_fill, gap, sr, rng, babble) * level * fade
        part = wave[: n - t]
        speech[t:t + len(part)] += part
        frames = speech_frames(part, sr, shift)
        first = t // hop
        labels[first:first + len(frames)] |= frames[: len(labels) - first]
        t += len(part)
    power = float(np.mean(speech[speech != 0] ** 2)) if np.any(speech) else reference ** 2
    if mix.bed:
        rest += at_snr(power, background(mix.bed, n, sr, rng, babble), mix.bed_snr_db)
    mixed = speech + rest
    peak = float(np.abs(mixed).max())
    atomic_write_text(label_path, " ".join(map(str, labels.tolist())) + "\n")  # first: a wav implies its labels
    save_wav(path, mixed / peak * 0.99 if peak > 0.99 else mixed, sr)
    return labels


def make_vad_corpus(out_dir: str | Path, n_train: int = 600, n_val: int = 40, n_test: int = 60, seconds: float = 8.0,
                    seed: int = 0, sample_rate: int = 16000, frame_shift: float = 0.02, jobs: int = 2,
                    progress: bool = True) -> VADCorpusInfo:
    out_dir = Path(out_dir)
    if seconds < 1 or frame_shift <= 0:
        raise ValueError(f"seconds={seconds} (at least 1) or frame_shift={frame_shift} (positive) out of range")
    mixtures = plan({"train": n_train, "val": n_val, "test": n_test}, seed, seconds)
    out_dir.mkdir(parents=True, exist_ok=True)
    claim(out_dir, mixtures, seed, sample_rate)
    train_voices, test_voices = voice_pools()
    babble = {split: [speak(sample_text(np.random.default_rng([seed, k, 5]))[1], pool[k % len(pool)], 170, 50,
                            sample_rate) for k in range(6)]
              for split, pool in (("train", train_voices), ("test", test_voices))}
    with ThreadPoolExecutor(max(1, jobs)) as pool:  # the work happens in espeak-ng subprocesses
        work = pool.map(lambda m: render(m, out_dir, seed, sample_rate, frame_shift,
                                         babble["test" if m.split == "test" else "train"]), mixtures)
        labels = list(tqdm(work, total=len(mixtures), desc="vad", unit="clip", disable=not progress))
    info = VADCorpusInfo(out_dir)
    for split in SPLITS:
        rows = [(m, lab) for m, lab in zip(mixtures, labels) if m.split == split]
        entries = [ManifestEntry(m.relpath, m.seconds, " ".join(u.spoken for u in m.utterances),
                                 extra={"offset": 0, "label": " ".join(map(str, lab.tolist())),
                                        "bed": m.bed or "none"}) for m, lab in rows]
        info.manifests[split] = write_manifest(out_dir / f"{split}_manifest.json", entries)
        info.counts[split] = len(rows)
        info.speech_share[split] = float(np.mean(np.concatenate([lab for _, lab in rows]))) if rows else 0.0
    atomic_write_text(out_dir / "frame_shift.json", json.dumps({"frame_shift": frame_shift}) + "\n")
    return info
