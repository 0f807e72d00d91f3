"""A reference and a hypothesis as two lines of HTML with their word differences marked, and the edit pairs.

The words are paired by harken's minimal-edit alignment (the one WER counts), so the page marks exactly the
errors the row's WER counts: `sub` on both lines, `del` on the reference, `ins` on the hypothesis. A
hypothesis word's confidence, when known, colours its underline from red (doubtful) to green (sure).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from harken.metrics.wer import alignment

CSS = """.sub{background:#ffe2b8;color:#8a4500}.del{background:#ffd6d6;color:#a30000;text-decoration:line-through}
.ins{background:#d3f2dc;color:#11652c}[data-c]{border-bottom:3px solid}.ref,.hyp{margin:1px 0;line-height:1.7}
.ref:before,.hyp:before{display:inline-block;width:34px;color:#888;font-size:11px}.ref:before{content:'REF'}
.hyp:before{content:'HYP'}"""


@dataclass
class WordDiff:
    reference: str  # HTML of the reference line
    hypothesis: str  # HTML of the hypothesis line
    pairs: list[tuple[str | None, str | None]]  # the alignment: (ref word or None, hyp word or None)


def word_diff(ref: str, hyp: str, confidences: list[float] | None = None) -> WordDiff:
    """`confidences`: one per hypothesis word (ignored if the count differs, as for a text the model's words
    do not spell the same way)."""
    hyp_words = hyp.split()
    pairs = alignment(ref.split(), hyp_words)
    conf = iter(confidences) if confidences is not None and len(confidences) == len(hyp_words) else None
    ref_html, hyp_html = [], []
    for r, h in pairs:
        kind = "" if r == h else "sub" if r is not None and h is not None else "del" if h is None else "ins"
        if r is not None:
            ref_html.append(_span(r, kind, f"said: {h}" if kind == "sub" else ""))
        if h is not None:
            c = None if conf is None else next(conf)
            title = "; ".join(t for t in (f"reference: {r}" if kind == "sub" else "",
                                          "" if c is None else f"confidence {c:.2f}") if t)
            hyp_html.append(_span(h, kind, title, c))
    return WordDiff(" ".join(ref_html), " ".join(hyp_html), pairs)


def confidence_color(c: float) -> str:
    """Red below 0.5, through yellow, to green at 1."""
    return f"hsl({120 * min(max((c - 0.5) / 0.5, 0.0), 1.0):.0f},75%,42%)"


def _span(word: str, kind: str, title: str, confidence: float | None = None) -> str:
    text = html.escape(word)
    if not kind and confidence is None:
        return text
    attrs = f" class={kind}" if kind else ""
    if title:
        attrs += f" title='{html.escape(title, quote=True)}'"
    if confidence is not None:
        attrs += f" data-c={confidence:.2f} style='border-color:{confidence_color(confidence)}'"
    return f"<span{attrs}>{text}</span>"
