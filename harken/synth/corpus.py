"""A small AN4-like corpus spoken by espeak-ng, for training and testing without downloads.

Everything is planned from the seed first (texts, voices, rate, pitch, amplitude, augmentation), then
rendered, so the same seed gives the same corpus and a killed run continues: finished wavs (written
atomically) are kept. The test split is spoken by accents *and* voice variants that training never hears.
Splits are planned test, train, val: training avoids test texts and validation avoids both, redrawing
within the same kind so the kinds keep equal shares. The closed command list is exempt (a model cannot
learn words it never hears); the test share also said in training is reported as `text_overlap`.

Texts: the built-in AN4-style generators (spelled names and cities, digit strings, commands) and, with
`text_file`, sentences from that file written out as spoken (numbers and symbols as words). `spell_words`
makes that share of the spelled items spell a word of the file instead of a name or city: the closed list of
names is small, so a model can learn its spellings as patterns and stumble on an unseen name; book words give
thousands of letter sequences, and validation gets spelled items again (names are used up by test and train).
`chain_shifts` (wide variety) makes that share of the simulated accents start from a textbook chain shift.

Engines (`engines`, shares by name; mix.py): other synthesizers say a share of the utterances, each with its own
held-out test voices, and `warp` gives that share of the training utterances a new speaker (WORLD pitch and
vocal-tract warping, warp.py). Left at their defaults, the corpus is espeak-ng's exactly as before.

    out/wav/{train,val,test}/00000.wav
    out/{train,val,test}_manifest.json   (NeMo JSON lines, paths relative to `out`)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from harken.audio.io import save_wav
from harken.core.atomic import atomic_write_text
from harken.data.manifest import ManifestEntry, iter_manifest, write_manifest
from harken.synth.accent import CHAIN_SHIFTS, accent, as_phoneme_input, shift_vowels
from harken.synth.engines import get_engine
from harken.synth.engines.espeak import BASE_PITCH, BASE_WPM
from harken.synth.espeak import EspeakError, available_voices, phonemes
from harken.synth.mix import assign_engines, assign_warps, voice_label
from harken.synth.texts import CLOSED_TEXTS, SentencePool, sample_text, sample_text_cmn, spell

TRAIN_ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029"]
TRAIN_VARIANTS = ["", "+m1", "+m2", "+m3", "+m4", "+f1", "+f2", "+f3", "+klatt", "+klatt2"]
TEST_ACCENTS = ["en-gb-x-gbclan", "en-gb-x-gbcwmd"]
TEST_VARIANTS = ["+m5", "+m6", "+f4", "+klatt3"]
# "wide" (for training a shipped model): one more accent, every variant espeak-ng has except the test ones,
# wider rate and pitch, and simulated accents (accent.py) on `vowel_shift_share` of the training utterances.
# The test split is the same in both sets: same voices, same draws.
VARIETY = {
    "standard": {"extra_accents": [], "all_variants": False, "speed": (130, 200), "pitch": (30, 71),
                 "vowel_shift_share": 0.0},
    "wide": {"extra_accents": ["en-us-nyc"], "all_variants": True, "speed": (110, 230), "pitch": (15, 86),
             "vowel_shift_share": 0.4},
}
VOWEL_SHIFT_STRENGTH = 0.35  # share of vowel kinds an accent moves
LANGUAGES = {  # language -> (training accents, test accents, built-in text generator)
    "en": (TRAIN_ACCENTS, TEST_ACCENTS, sample_text),
    "cmn": (["cmn-latn-pinyin"], ["cmn-latn-pinyin"], sample_text_cmn),  # one accent: variants are held out
}
MAX_TRIES = 50  # draws per item to avoid a text of an earlier-planned split
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Item:
    split: str
    index: int
    text: str
    spoken: str
    kind: str
    voice: str
    speed: int
    pitch: int
    amplitude: int
    augment: bool
    vowel_shift: float = 0.0  # simulated accent strength (0: espeak-ng's own accent only)
    chain: str = ""  # the simulated accent's chain shift (accent.CHAIN_SHIFTS), if any
    # fields added with engines (repr=False keeps repr as it was; describe() shows them when they are set)
    engine: str = field(default="espeak", repr=False)  # who says it; other engines' speed, pitch: percent
    warp_f0: float = field(default=1.0, repr=False)  # WORLD warping of the result (warp.py): pitch factor
    warp_formant: float = field(default=1.0, repr=False)  # and vocal-tract (formant) factor

    @property
    def relpath(self) -> str:
        return f"wav/{self.split}/{self.index:05d}.wav"


@dataclass
class CorpusInfo:
    out_dir: Path
    manifests: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    hours: dict[str, float] = field(default_factory=dict)
    train_voices: list[str] = field(default_factory=list)
    test_voices: list[str] = field(default_factory=list)
    text_overlap: float = 0.0  # share of test utterances whose text also occurs in training
    avoided_said: int = 0  # utterances that still say an avoided text (only if a text kind ran out)


def voices(accents: list[str], variants: list[str]) -> list[str]:
    """Accent+variant combinations this espeak-ng installation actually has."""
    known = available_voices()
    found = [a + v for a in accents if a in known for v in variants if not v or v in known]
    if not found:
        raise EspeakError(f"none of the voices {accents} exist in this espeak-ng installation")
    return found


def plan(n: dict[str, int], seed: int, text_file: str | None = None, sentence_share: float = 0.5,
         language: str = "en", variety: str = "standard", avoid: frozenset[str] = frozenset(),
         spell_words: float = 0.0, chain_shifts: float = 0.0) -> list[Item]:
    """Every utterance's content and voice, from the seed alone (test first, so others avoid its texts).
    `avoid`: texts no split may say, e.g. another corpus's test texts when this one adds training data.
    `spell_words`: share of spelled items that spell a word of `text_file` (0 leaves every draw as it was).
    `chain_shifts`: share of simulated accents that are chain shifts (0 leaves every draw as it was)."""
    if language not in LANGUAGES:
        raise ValueError(f"language={language!r}: use one of {sorted(LANGUAGES)}")
    if variety not in VARIETY:
        raise ValueError(f"variety={variety!r}: use one of {sorted(VARIETY)}")
    if not 0.0 <= spell_words <= 1.0:
        raise ValueError(f"spell_words={spell_words}: a share, between 0 and 1")
    if not 0.0 <= chain_shifts <= 1.0:
        raise ValueError(f"chain_shifts={chain_shifts}: a share, between 0 and 1")
    if chain_shifts > 0 and VARIETY[variety]["vowel_shift_share"] == 0:
        raise ValueError(f"chain_shifts: variety {variety!r} simulates no accents (use --variety wide)")
    train_accents, test_accents, generate = LANGUAGES[language]
    opts = VARIETY[variety]
    test_voices = voices(test_accents, TEST_VARIANTS)
    train_variants = TRAIN_VARIANTS
    if opts["all_variants"]:
        train_variants = [""] + sorted(v for v in available_voices() if v.startswith("+") and v not in TEST_VARIANTS)
    train_voices = voices(train_accents + (opts["extra_accents"] if language == "en" else []), train_variants)
    sentences = SentencePool(text_file, language=language, **({"min_words": 2, "max_words": 30}
                                                                if language == "cmn" else {})) if text_file else None
    words = sentences.words() if sentences is not None and spell_words > 0 else []
    if spell_words > 0 and not words:
        raise ValueError("spell_words: needs a text file with words to spell (text_file)")

    def draw(rng: np.random.Generator) -> tuple[str, str, str]:
        if sentences is not None and rng.random() < sentence_share:
            return sentences.sample(rng)
        text, spoken, kind = generate(rng)
        if spell_words > 0 and kind == "spelled" and rng.random() < spell_words:  # no extra draw when off
            text, spoken = spell(words[int(rng.integers(len(words)))])
        return text, spoken, kind

    items, taken = [], set(avoid)  # texts of the splits planned so far, and those to avoid
    for split in ("test", "train", "val"):
        rng = np.random.default_rng([seed, SPLITS.index(split)])
        test = split == "test"
        pool = test_voices if test else train_voices
        prosody = VARIETY["standard"] if test else opts  # test voices speak as they always did
        speed, pitch = prosody["speed"], prosody["pitch"]
        planned = set()
        for i in range(n[split]):
            text, spoken, kind = fresh(draw, rng, taken)
            planned.add(text)
            items.append(Item(split, i, text, spoken, kind, str(pool[int(rng.integers(len(pool)))]),
                              speed=int(rng.integers(*speed)), pitch=int(rng.integers(*pitch)),
                              amplitude=int(rng.integers(60, 160)), augment=not test))
        if split == "train" and n[split] > 0 and opts["vowel_shift_share"] > 0:
            items[-n[split]:] = simulate_accents(items[-n[split]:], seed, opts["vowel_shift_share"], chain_shifts)
        taken |= planned
    return sorted(items, key=lambda it: (SPLITS.index(it.split), it.index))


def simulate_accents(items: list[Item], seed: int, share: float, chain_shifts: float) -> list[Item]:
    """`share` of the items get a simulated accent, `chain_shifts` of those a chain shift. Each choice draws
    from a stream of its own, so the plan's other draws (and older corpora) stay as they were."""
    shift_rng, chain_rng = np.random.default_rng([seed, 99]), np.random.default_rng([seed, 98])
    chains = sorted(CHAIN_SHIFTS)

    def maybe_accented(item: Item) -> Item:
        if shift_rng.random() >= share:
            return item
        chained = chain_shifts > 0 and chain_rng.random() < chain_shifts
        return replace(item, vowel_shift=VOWEL_SHIFT_STRENGTH,
                       chain=chains[int(chain_rng.integers(len(chains)))] if chained else "")

    return [maybe_accented(it) for it in items]


def fresh(draw: Callable[[np.random.Generator], tuple[str, str, str]], rng: np.random.Generator,
          taken: set[str]) -> tuple[str, str, str]:
    """A draw whose text is not in `taken` (closed-vocabulary commands excepted), preferably of the first
    draw's kind so that avoiding texts does not skew the mix of kinds (a kind whose texts are used up, e.g.
    a small sentence file, yields to another kind); the first draw if nothing new turns up."""
    first = candidate = draw(rng)
    other = None
    for _ in range(MAX_TRIES):
        if candidate[0] not in taken or candidate[0] in CLOSED_TEXTS:
            if candidate[2] == first[2]:
                return candidate
            other = other or candidate
        candidate = draw(rng)
    return other or first


def claim(out_dir: Path, items: list[Item], seed: int, sample_rate: int) -> None:
    """Record the plan's fingerprint in out_dir/plan.sha256, refusing a folder made from another plan: finished
    wavs are reused by name, so they would silently pair old audio with new texts."""
    described = ", ".join(map(describe, items))
    digest = hashlib.sha256(f"({seed!r}, {sample_rate!r}, [{described}])".encode()).hexdigest()
    path = out_dir / "plan.sha256"
    if path.exists() and path.read_text().strip() != digest:
        raise ValueError(f"{out_dir} holds a corpus planned differently (other seed, sizes, options or generator "
                         "version): use a new folder, or delete this one")
    if not path.exists():
        atomic_write_text(path, digest + "\n")


def describe(item: Item) -> str:
    """repr(item) without its trailing fields that hold their defaults: a field added to Item later (with a
    default that means "as before") leaves the fingerprints of older corpora as they were, so they resume."""
    shown = list(fields(item))
    while shown[-1].default is not MISSING and getattr(item, shown[-1].name) == shown[-1].default:
        shown.pop()
    return f"{type(item).__name__}({', '.join(f'{f.name}={getattr(item, f.name)!r}' for f in shown)})"


def render(item: Item, out_dir: Path, seed: int, sample_rate: int) -> float:
    """Write the item's wav unless it exists; returns its duration in seconds."""
    path = out_dir / item.relpath
    if path.exists():
        return sf.info(str(path)).duration
    text = item.spoken
    if item.vowel_shift > 0:
        mapping = accent(np.random.default_rng([seed, SPLITS.index(item.split), item.index, 11]), item.vowel_shift,
                         item.chain)
        text = as_phoneme_input(shift_vowels(phonemes(text, item.voice), mapping))
    engine = get_engine(item.engine)
    if item.engine == "espeak":  # espeak-ng's native units, exactly as before engines existed
        speed, pitch, volume = item.speed / BASE_WPM, item.pitch / BASE_PITCH, item.amplitude / 100
    else:  # the neural engines read plain words; spelled letters as capitals
        text = engine.letters(item.text) if item.kind == "spelled" else item.spoken
        speed, pitch, volume = item.speed / 100, item.pitch / 100, item.amplitude / 100
    engine_seed = int(np.random.default_rng([seed, SPLITS.index(item.split), item.index, 5]).integers(2**31))
    audio, _ = engine.synthesize(text, item.voice, seed=engine_seed, speed=speed, pitch=pitch, volume=volume,
                                 sample_rate=sample_rate)
    if (item.warp_f0, item.warp_formant) != (1.0, 1.0):
        from harken.synth.warp import warp

        audio = warp(audio, sample_rate, item.warp_f0, item.warp_formant)
    if item.augment:
        audio = augment(audio, sample_rate, np.random.default_rng([seed, SPLITS.index(item.split), item.index, 7]))
    save_wav(path, audio, sample_rate)
    return len(audio) / sample_rate


def augment(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Random gain, leading/trailing silence and white noise at 20-40 dB SNR."""
    lead, trail = (int(rng.uniform(0, 0.3) * sample_rate) for _ in range(2))
    audio = np.concatenate([np.zeros(lead, np.float32), audio * rng.uniform(0.3, 1.0), np.zeros(trail, np.float32)])
    power = float(np.mean(audio ** 2)) + 1e-12
    snr_db = rng.uniform(20, 40)
    noise = rng.standard_normal(len(audio)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (audio + noise).astype(np.float32)


def make_corpus(
    out_dir: str | Path,
    n_train: int = 1200,
    n_val: int = 100,
    n_test: int = 150,
    seed: int = 0,
    sample_rate: int = 16000,
    jobs: int = 2,
    progress: bool = True,
    text_file: str | None = None,
    sentence_share: float = 0.5,
    language: str = "en",
    variety: str = "standard",
    avoid_texts: list[str | Path] = (),
    spell_words: float = 0.0,
    chain_shifts: float = 0.0,
    texts_only: bool = False,
    engines: dict[str, float] | None = None,
    warp: float = 0.0,
) -> CorpusInfo:
    """`texts_only`: write the plan as `{split}_texts.json` (durations 0, no audio made): what a word LM reads,
    in seconds instead of hours, under names no training run mistakes for the corpus.
    `engines`: share of the utterances each engine says (default: espeak-ng alone); `warp`: share of the
    training and validation utterances given a warped speaker."""
    out_dir = Path(out_dir)
    shares = engines or {"espeak": 1.0}
    if language != "en" and set(shares) != {"espeak"}:
        raise ValueError(f"engines: only espeak-ng speaks {language!r}; the other engines speak English")
    loaded = {name: get_engine(name) for name in shares}  # a missing engine says so before any work
    avoid = frozenset(e.text for m in avoid_texts for e in iter_manifest(m))
    items = plan({"train": n_train, "val": n_val, "test": n_test}, seed, text_file, sentence_share, language,
                 variety, avoid, spell_words, chain_shifts)
    items = assign_warps(assign_engines(items, seed, shares, loaded, SPLITS), seed, warp, SPLITS)
    if texts_only:
        out_dir.mkdir(parents=True, exist_ok=True)
        durations, suffix = [0.0] * len(items), "texts"
    else:
        claim(out_dir, items, seed, sample_rate)
        with ThreadPoolExecutor(max(1, jobs)) as pool:  # espeak-ng subprocesses; ONNX engines release the GIL
            work = pool.map(lambda it: render(it, out_dir, seed, sample_rate), items)
            desc = "espeak-ng" if set(shares) == {"espeak"} else "+".join(sorted(shares))
            durations = list(tqdm(work, total=len(items), desc=desc, unit="utt", disable=not progress))
        suffix = "manifest"
    info = CorpusInfo(out_dir)
    for split in SPLITS:
        rows = [(it, d) for it, d in zip(items, durations) if it.split == split]
        entries = [ManifestEntry(it.relpath, round(d, 3), it.text, extra={"voice": voice_label(it), "kind": it.kind})
                   for it, d in rows]
        info.manifests[split] = write_manifest(out_dir / f"{split}_{suffix}.json", entries)
        info.counts[split] = len(rows)
        info.hours[split] = sum(d for _, d in rows) / 3600
    info.train_voices = sorted({voice_label(it) for it in items if it.split == "train"})
    info.test_voices = sorted({voice_label(it) for it in items if it.split == "test"})
    train_texts = {it.text for it in items if it.split == "train"}
    test = [it for it in items if it.split == "test"]
    info.text_overlap = sum(it.text in train_texts for it in test) / max(len(test), 1)
    info.avoided_said = sum(it.text in avoid and it.text not in CLOSED_TEXTS for it in items)
    return info
