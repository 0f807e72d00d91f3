"""Simulated accents: the same words with some vowels said differently.

espeak-ng has few English accents, and an accent is mostly a different realisation of the same vowels (West
Midlands "nine" sounds like "noine", Northern "bus" like "buss"). A model trained on five accents learns their
exact vowels and stumbles on a sixth. Here an utterance's phonemes (espeak-ng's own transcription) get a
per-utterance accent: each vowel phoneme is, with probability `strength`, replaced *consistently* by one of
its articulatory neighbours, then the phonemes are spoken back with `[[...]]`. The model has to recognise
words from context and consonants when vowels drift, as it must with a real new accent.
"""

from __future__ import annotations

import re

import numpy as np

# espeak-ng's English vowel mnemonics and neighbours one step away in the vowel space (or a diphthong's
# nearby start or end). Generic, not copied from any one accent.
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "aI": ("OI", "eI", "A:", "aU"),
    "eI": ("aI", "E", "i:"),
    "oU": ("aU", "O:", "u:"),
    "aU": ("oU", "a", "A:"),
    "OI": ("aI", "O:"),
    "i:": ("I", "eI"),
    "I": ("i:", "E", "@"),
    "E": ("a", "I", "eI"),
    "a": ("E", "A:", "V"),
    "A:": ("a", "O:", "V"),
    "0": ("O:", "A:", "V"),
    "O:": ("0", "oU", "A:"),
    "V": ("U", "@", "a", "0"),
    "U": ("u:", "V"),
    "u:": ("U", "oU"),
    "3:": ("V", "E", "@"),
    "@": ("V", "I", "E"),
}
# other vowel mnemonics, matched only so that their parts are not taken for the vowels above
_OTHER_VOWELS = ("aI@", "aU@", "aI3", "i@3", "e@", "I@", "U@", "A@", "O@", "i@", "o@", "@L", "@U", "3", "i", "e", "o")
# longest first (so that "aI" is one token, not "a" + "I"); a trailing digit or # is espeak-ng's variant mark
_VOWEL = re.compile("(" + "|".join(re.escape(v) for v in sorted({*NEIGHBOURS, *_OTHER_VOWELS}, key=len, reverse=True))
                    + ")([0-9#]?)")


def accent(rng: np.random.Generator, strength: float) -> dict[str, str]:
    """A random accent: vowel -> replacement, for about `strength` of the vowels."""
    return {v: str(rng.choice(n)) for v, n in NEIGHBOURS.items() if rng.random() < strength}


def shift_vowels(phonemes: str, mapping: dict[str, str]) -> str:
    """Apply an accent to an espeak-ng phoneme string (stress marks and consonants untouched)."""
    return _VOWEL.sub(lambda m: mapping[m.group(1)] if m.group(1) in mapping else m.group(0), phonemes)


def as_phoneme_input(phonemes: str) -> str:
    """espeak-ng `-x` output (one line per clause) as `[[...]]` input for speaking it back."""
    return "[[" + " ".join(line.strip() for line in phonemes.splitlines() if line.strip()) + "]]"
