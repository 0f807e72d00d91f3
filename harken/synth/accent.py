"""Simulated accents: the same words with some vowels said differently.

espeak-ng has few English accents, and an accent is mostly a different realisation of the same vowels (West
Midlands "nine" sounds like "noine", Northern "bus" like "buss"). A model trained on five accents learns their
exact vowels and stumbles on a sixth. Here an utterance's phonemes (espeak-ng's own transcription) get a
per-utterance accent: each vowel phoneme is, with probability `strength`, replaced *consistently* by one of
its articulatory neighbours, then the phonemes are spoken back with `[[...]]`. The model has to recognise
words from context and consonants when vowels drift, as it must with a real new accent.

Real accents also move vowels in *chains*: when one vowel moves into another's place, that one moves on (the
London and West Midlands diphthong shift says "see" nearly as "say", "say" nearly as "sigh", "sigh" nearly
as "soy"). A chain accent (`CHAIN_SHIFTS`) applies one such textbook chain whole, then random single shifts
to the other vowels: the letters E, A and I still sound unlike each other, but each sounds like another
letter of the standard accent, and only the rest of the utterance tells which accent is speaking.
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
# textbook chain shifts of English accents (descriptions from dialectology, not measured on any test voice)
CHAIN_SHIFTS: dict[str, dict[str, str]] = {
    "diphthong": {"i:": "eI", "eI": "aI", "aI": "OI", "u:": "oU", "oU": "aU"},  # London, Birmingham, Australia
    "northern_cities": {"a": "E", "A:": "a", "O:": "A:", "E": "V", "V": "O:"},  # Great Lakes US
    "southern": {"aI": "A:", "eI": "aI", "E": "eI", "I": "i:"},  # Southern US
    "front_lowering": {"I": "E", "E": "a", "a": "A:"},  # California, Canada
    "front_raising": {"a": "E", "E": "I", "I": "@"},  # New Zealand
}
# other vowel mnemonics, matched only so that their parts are not taken for the vowels above
_OTHER_VOWELS = ("aI@", "aU@", "aI3", "i@3", "e@", "I@", "U@", "A@", "O@", "i@", "o@", "@L", "@U", "3", "i", "e", "o")
# longest first (so that "aI" is one token, not "a" + "I"); a trailing digit or # is espeak-ng's variant mark
_VOWEL = re.compile("(" + "|".join(re.escape(v) for v in sorted({*NEIGHBOURS, *_OTHER_VOWELS}, key=len, reverse=True))
                    + ")([0-9#]?)")


def accent(rng: np.random.Generator, strength: float, chain: str = "") -> dict[str, str]:
    """A random accent: vowel -> replacement, for about `strength` of the vowels; with `chain` (a key of
    CHAIN_SHIFTS), that chain's vowels move along it and the random shifts only touch the others."""
    mapping = {v: str(rng.choice(n)) for v, n in NEIGHBOURS.items() if rng.random() < strength}
    return (mapping | CHAIN_SHIFTS[chain]) if chain else mapping


def shift_vowels(phonemes: str, mapping: dict[str, str]) -> str:
    """Apply an accent to an espeak-ng phoneme string (stress marks and consonants untouched)."""
    return _VOWEL.sub(lambda m: mapping[m.group(1)] if m.group(1) in mapping else m.group(0), phonemes)


def as_phoneme_input(phonemes: str) -> str:
    """espeak-ng `-x` output (one line per clause) as `[[...]]` input for speaking it back."""
    return "[[" + " ".join(line.strip() for line in phonemes.splitlines() if line.strip()) + "]]"
