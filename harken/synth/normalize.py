"""Sentences as espeak-ng will say them: numbers and symbols written out, so transcripts are exact.

`normalize_sentence("It costs $42 & 5%!")` -> "it costs forty two dollars and five percent". Sentences
with characters that cannot be spelled in the target labels are rejected (None), never silently altered.
"""

from __future__ import annotations

import re

ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
       "seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "=": " equals ", "@": " at ", "#": " number "}
_NUMBER = re.compile(r"\$?\d[\d,]*(?:\.\d+)?")


def number_words(n: int) -> str:
    if n < 0:
        return "minus " + number_words(-n)
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= size:
            rest = n % size
            return number_words(n // size) + " " + name + ("" if rest == 0 else " " + number_words(rest))
    raise AssertionError(n)


def _spell_number(match: re.Match) -> str:
    token = match.group(0)
    dollars = token.startswith("$")
    token = token.lstrip("$").replace(",", "")
    whole, _, frac = token.partition(".")
    words = number_words(int(whole))
    if frac:
        words += " point " + " ".join(ONES[int(d)] for d in frac)
    return f" {words}{' dollars' if dollars else ''} "


def normalize_sentence(text: str, labels: str = " abcdefghijklmnopqrstuvwxyz'") -> str | None:
    text = text.lower().replace("’", "'")
    text = _NUMBER.sub(_spell_number, text)
    for symbol, words in SYMBOLS.items():
        text = text.replace(symbol, words)
    text = re.sub(r"[-–—/]", " ", text)
    text = re.sub(r"[.,;:!?\"()\[\]{}…«»“”]", " ", text)
    text = " ".join(w.strip("'") for w in text.split())
    text = " ".join(text.split())
    if not text or any(c not in labels for c in text):
        return None
    return text
