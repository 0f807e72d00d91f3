"""A speech-commands corpus spoken by espeak-ng: 1-s clips of single words, as Google Speech Commands.

Labels follow the 12-class task: the command words (`COMMANDS`, by default yes no up down left right on off
stop go), "unknown" for any other word of the Speech Commands vocabulary (digits, bed, bird, marvin, ...)
and "silence" for clips with only background sound; each label gets an equal share. Every clip is planned
from the seed (word, voice, rate, pitch, level, position, background, SNR, room), then rendered; finished
wavs (written atomically) are kept, so a killed run resumes. Training and validation use the training voices
and background kinds; the test split uses espeak-ng accents and variants, and background kinds, that
training never hears (corpus.py's held-out voices, backgrounds.py's test kinds).

    out/wav/{train,val,test}/00000.wav
    out/{train,val,test}_manifest.json   {"audio_filepath", "duration": 1.0, "text": word, "label", "voice"}
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from harken.audio.io import save_wav
from harken.augment.perturb import reverb
from harken.data.manifest import ManifestEntry, write_manifest
from harken.synth.backgrounds import TEST_KINDS, TRAIN_KINDS, at_snr, background
from harken.synth.corpus import TEST_ACCENTS, TEST_VARIANTS, TRAIN_ACCENTS, claim, voices
from harken.synth.espeak import available_voices, speak

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
VOCABULARY = COMMANDS + ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "bed",
                         "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow", "backward",
                         "forward", "follow", "learn", "visual")
SPLITS = ("train", "val", "test")
CLIP_SECONDS = 1.0


@dataclass(frozen=True)
class Clip:
    split: str
    index: int
    word: str  # "" for a silence clip
    label: str
    voice: str
    speed: int
    pitch: int
    level: float  # peak of the word, 0-1
    position: float  # where the word starts, as a share of the room left in the clip
    noise: str
    snr_db: float
    rt60: float  # 0: no room

    @property
    def relpath(self) -> str:
        return f"wav/{self.split}/{self.index:05d}.wav"


@dataclass
class CommandsInfo:
    out_dir: Path
    labels: list[str]
    manifests: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    train_voices: list[str] = field(default_factory=list)
    test_voices: list[str] = field(default_factory=list)


def labels_for(commands: tuple[str, ...] = COMMANDS) -> list[str]:
    return [*commands, "unknown", "silence"]


def voice_pools() -> tuple[list[str], list[str]]:
    """(training voices, held-out test voices): every espeak-ng variant but the test ones for training."""
    variants = [""] + sorted(v for v in available_voices() if v.startswith("+") and v not in TEST_VARIANTS)
    return voices(TRAIN_ACCENTS, variants), voices(TEST_ACCENTS, TEST_VARIANTS)


def plan(n: dict[str, int], seed: int, commands: tuple[str, ...] = COMMANDS) -> list[Clip]:
    unknown_words = [w for w in VOCABULARY if w not in commands]
    labels = labels_for(commands)
    train_voices, test_voices = voice_pools()
    clips = []
    for split in SPLITS:
        rng = np.random.default_rng([seed, SPLITS.index(split), 31])
        test = split == "test"
        pool, kinds = (test_voices, TEST_KINDS) if test else (train_voices, TRAIN_KINDS)
        for i in range(n[split]):
            label = labels[i % len(labels)] if test else labels[int(rng.integers(len(labels)))]
            word = "" if label == "silence" else label if label != "unknown" else str(rng.choice(unknown_words))
            clips.append(Clip(split, i, word, label, str(pool[int(rng.integers(len(pool)))]),
                              speed=int(rng.integers(120, 230)), pitch=int(rng.integers(20, 80)),
                              level=round(float(rng.uniform(0.1, 0.9)), 3), position=round(float(rng.random()), 3),
                              noise=str(rng.choice(kinds)), snr_db=round(float(rng.uniform(5, 40)), 1),
                              rt60=round(float(rng.uniform(0.2, 0.7)), 2) if rng.random() < 0.3 else 0.0))
    return clips


def trim(audio: np.ndarray, sr: int, floor_db: float = -40.0) -> np.ndarray:
    """The word without espeak-ng's leading and trailing silence (10 ms frames under floor_db of the peak)."""
    hop = sr // 100
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    energy = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(energy > energy.max() + floor_db)
    return audio[loud[0] * hop:(loud[-1] + 1) * hop] if len(loud) else audio


def render(clip: Clip, out_dir: Path, seed: int, sr: int, babble_pool: list[np.ndarray]) -> None:
    path = out_dir / clip.relpath
    if path.exists():
        return
    rng = np.random.default_rng([seed, SPLITS.index(clip.split), clip.index, 7])
    n = int(CLIP_SECONDS * sr)
    out = np.zeros(n, np.float32)
    if clip.word:
        word = trim(speak(clip.word, clip.voice, clip.speed, clip.pitch, sr), sr)[:n]
        word = word / (np.abs(word).max() + 1e-9) * clip.level
        if clip.rt60:
            word = reverb(word, sr, rng, clip.rt60, clip.rt60)
        start = int(clip.position * (n - len(word)))
        out[start:start + len(word)] = word
        noise = at_snr(float(np.mean(word ** 2)), background(clip.noise, n, sr, rng, babble_pool), clip.snr_db)
    else:  # silence: the background alone, at a level from near-silent to loud
        noise = background(clip.noise, n, sr, rng, babble_pool) * np.float32(10 ** (rng.uniform(-60, -15) / 20))
    mixed = out + noise
    peak = float(np.abs(mixed).max())
    save_wav(path, mixed / peak * 0.99 if peak > 0.99 else mixed, sr)


def babble_material(pool: list[str], seed: int, sr: int, count: int = 6) -> list[np.ndarray]:
    """A few words in a split's own voices: what its babble is made of."""
    rng = np.random.default_rng([seed, 77])
    return [speak(str(rng.choice(VOCABULARY)), pool[int(rng.integers(len(pool)))], 170, 50, sr)
            for _ in range(count)]


def make_commands(out_dir: str | Path, n_train: int = 3600, n_val: int = 360, n_test: int = 600, seed: int = 0,
                  sample_rate: int = 16000, jobs: int = 2, commands: tuple[str, ...] = COMMANDS,
                  progress: bool = True) -> CommandsInfo:
    out_dir = Path(out_dir)
    bad = [w for w in commands if w not in VOCABULARY]
    if bad or not commands:
        raise ValueError(f"commands {bad or '(none)'}: choose from the Speech Commands vocabulary {VOCABULARY}")
    clips = plan({"train": n_train, "val": n_val, "test": n_test}, seed, tuple(commands))
    out_dir.mkdir(parents=True, exist_ok=True)
    claim(out_dir, clips, seed, sample_rate)
    train_voices, test_voices = voice_pools()
    material = {"train": babble_material(train_voices, seed, sample_rate),
                "test": babble_material(test_voices, seed + 1, sample_rate)}
    with ThreadPoolExecutor(max(1, jobs)) as pool:  # the work happens in espeak-ng subprocesses
        work = pool.map(lambda c: render(c, out_dir, seed, sample_rate, material["test" if c.split == "test"
                                                                                  else "train"]), clips)
        list(tqdm(work, total=len(clips), desc="commands", unit="clip", disable=not progress))
    info = CommandsInfo(out_dir, labels_for(tuple(commands)))
    for split in SPLITS:
        rows = [c for c in clips if c.split == split]
        entries = [ManifestEntry(c.relpath, sf.info(str(out_dir / c.relpath)).duration, c.word,
                                 extra={"label": c.label, "voice": c.voice, "noise": c.noise}) for c in rows]
        info.manifests[split] = write_manifest(out_dir / f"{split}_manifest.json", entries)
        info.counts[split] = len(rows)
    info.train_voices = sorted({c.voice for c in clips if c.split != "test"})
    info.test_voices = sorted({c.voice for c in clips if c.split == "test"})
    return info
