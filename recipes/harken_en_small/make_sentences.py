"""Open-vocabulary sentences for the recipe, from public-domain Project Gutenberg books.

    python recipes/harken_en_small/make_sentences.py pg1342.txt pg84.txt pg2701.txt pg26184.txt \
        --out recipes/harken_en_small/sentences.txt
    python recipes/harken_en_small/make_sentences.py pg11.txt pg16.txt pg1661.txt pg174.txt pg236.txt \
        pg345.txt pg5200.txt pg98.txt --out recipes/harken_en_small/sentences_extra.txt
    python recipes/harken_en_small/make_sentences.py pg103.txt pg105.txt pg113.txt pg120.txt pg121.txt \
        pg1260.txt pg1400.txt pg141.txt pg14263.txt pg15122.txt pg158.txt pg159.txt pg161.txt pg16215.txt \
        pg1837.txt pg1874.txt pg215.txt pg2166.txt pg219.txt pg271.txt pg2852.txt pg289.txt pg308.txt \
        pg3261.txt pg33.txt pg35.txt pg36.txt pg421.txt pg45.txt pg46.txt pg514.txt pg55.txt pg550.txt \
        pg558.txt pg73.txt pg730.txt pg74.txt pg76.txt pg768.txt pg910.txt \
        --out recipes/harken_en_small/sentences_more.txt
    python recipes/harken_en_small/make_sentences.py pg60.txt pg62.txt pg78.txt pg95.txt pg107.txt pg108.txt \
        pg122.txt pg139.txt pg145.txt pg153.txt pg154.txt pg155.txt pg217.txt pg244.txt pg245.txt pg284.txt \
        pg394.txt pg507.txt pg541.txt pg543.txt pg583.txt pg599.txt pg766.txt pg767.txt pg786.txt pg834.txt \
        pg883.txt pg963.txt pg969.txt pg1023.txt pg1074.txt pg1156.txt pg1399.txt pg2084.txt pg2226.txt \
        pg2554.txt pg2641.txt pg2814.txt pg2946.txt pg3176.txt pg3177.txt pg3409.txt pg4276.txt pg5658.txt \
        --out recipes/harken_en_small/sentences_fourth.txt

Keeps the book text between Gutenberg's START/END markers (the licence is not part of the book), joins
paragraph lines, splits at sentence ends and at ; : (long literary sentences are too long to speak in one
breath), writes them out as spoken (`normalize_sentence`) and keeps 3-14 words. The outputs are committed
(`sentences.txt`, `sentences_extra.txt`, `sentences_more.txt`, `sentences_fourth.txt`), so the recipe does not
need the books. The books come from the GITenberg repositories on GitHub (`<ID>-0.txt`, else `<ID>.txt`).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from harken.synth.normalize import normalize_sentence

ABBREVIATIONS = {"Mr": "mister", "Mrs": "missus", "Dr": "doctor", "St": "saint"}


def book_text(path: Path) -> str:
    lines = path.read_text(encoding="utf-8-sig", errors="replace").replace("\r", "").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("*** START OF")), -1)
    end = next((i for i, line in enumerate(lines) if line.startswith("*** END OF")), len(lines))
    return "\n".join(lines[start + 1:end])


def sentences(text: str, min_words: int, max_words: int) -> list[str]:
    text = re.sub(r"[_*]", "", text).replace("‘", "'")
    for short, spoken in ABBREVIATIONS.items():  # their full stop is not a sentence end
        text = re.sub(rf"\b{short}\.", spoken, text)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    out = []
    for paragraph in paragraphs:
        if paragraph.isupper():  # chapter headings
            continue
        for piece in re.split(r"(?<=[.!?;:])\s+", paragraph):
            spoken = normalize_sentence(piece)
            if spoken and min_words <= len(spoken.split()) <= max_words:
                out.append(spoken)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("books", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--min-words", type=int, default=3)
    p.add_argument("--max-words", type=int, default=14)
    args = p.parse_args()
    seen, kept = set(), []
    for book in args.books:
        for s in sentences(book_text(book), args.min_words, args.max_words):
            if s not in seen:
                seen.add(s)
                kept.append(s)
        print(f"{book}: {len(kept)} sentences so far")
    args.out.write_text("\n".join(kept) + "\n", encoding="utf-8")
    words = {w for s in kept for w in s.split()}
    print(f"{args.out}: {len(kept)} sentences, {len(words)} distinct words")


if __name__ == "__main__":
    main()
