"""What the synthetic corpus says: AN4-like short utterances over the labels " a-z'".

Three kinds, as in CMU's AN4 census database: names and cities spelled letter by letter, digit
strings read as words, and short editing commands. Each item has the transcript (`text`) and what
espeak-ng is asked to say (`spoken`). Spelled words are SSML `say-as characters`: spaced capitals are not
enough, espeak-ng reads "J A N E" with the article's schwa for "A" instead of the letter name.
"""

from __future__ import annotations

import re

import numpy as np

NAMES = """
aaron abby adam alan albert alex alice amy andrew angela anna anne arthur barbara ben betty bill bob
bonnie brad brian bruce carl carol carlos catherine charles chris christine claire colin craig dan daniel
david dawn dean debbie dennis diana donald donna doris dorothy douglas earl edith edward elaine ellen emily
emma eric ethel eugene evelyn frank fred gail gary george gerald gloria grace greg harold harry heather
helen henry howard irene isaac jack jacob james jane janet jason jean jeff jennifer jerry jessica jill jim
joan joe john joseph joyce judy julia karen kate keith kelly kenneth kevin kim larry laura lee leo linda
lisa louis lucy mark martha martin mary matthew megan michael mike nancy nathan neil nick nina norma oliver
oscar pamela patrick paul peggy peter philip rachel ralph ray rebecca richard rita robert roger rose roy
ruth ryan sally sam sandra sarah scott sharon steve susan terry thomas tim tina todd tony victor walter
wanda wayne william yvonne zach
""".split()

CITIES = """
akron albany atlanta austin baltimore bangor berlin boise boston boulder buffalo cairo calgary camden
canton chicago cleveland columbus dallas dayton denver detroit dover dublin durham el paso erie eugene
fargo flint fresno geneva glasgow hartford helena houston irvine ithaca jackson juneau kansas city kent
lansing leeds lima lincoln lisbon london lowell macon madison memphis miami milan moscow naples nashville
newark norfolk oakland ogden omaha orlando oslo ottawa oxford paris peoria phoenix pittsburgh portland
provo quebec raleigh reno richmond rome salem san diego santa fe savannah seattle sparta spokane tampa
toledo topeka toronto trenton tucson tulsa utica vienna warsaw wichita york yuma zurich
""".split()

DIGITS = "zero one two three four five six seven eight nine".split()

COMMANDS = [
    "yes", "no", "stop", "go", "help", "enter", "erase", "rubout", "repeat", "start over", "go back",
    "next", "previous", "cancel", "continue", "delete that", "undo", "redo", "save the file", "quit",
    "open the door", "close the window", "turn left", "turn right", "move up", "move down", "that's right",
    "that's wrong", "try again", "i don't know", "read it back", "spell it", "new line", "clear all",
]
TEMPLATES = ["go to line {n}", "delete word {n}", "page {n}", "move {n} steps", "select item {n}",
             "call extension {n} {m}", "room {n} {m} {k}"]
KINDS = ("spelled", "digits", "command")
CLOSED_TEXTS = frozenset(COMMANDS)  # a closed vocabulary (as in AN4): every split may say these

# Mandarin (espeak-ng's `cmn-latn-pinyin` voice reads Hanzi through pinyin): digits and everyday phrases
CMN_DIGITS = "零一二三四五六七八九"
CMN_PHRASES = (
    "你好 谢谢 再见 北京 上海 广州 深圳 开门 关门 向左 向右 停止 开始 今天 明天 昨天 天气很好 我们 他们 请坐 "
    "早上好 晚上好 打开电视 关闭电灯 播放音乐 下一首 上一首 音量大一点 音量小一点 现在几点 我要回家 吃饭了吗 "
    "你叫什么名字 没关系 对不起 不客气 欢迎光临"
).split()


def spelled(rng: np.random.Generator) -> tuple[str, str]:
    return spell(str(rng.choice(NAMES if rng.random() < 0.5 else CITIES)))


def spell(word: str) -> tuple[str, str]:
    """(text, spoken) of a word said letter by letter."""
    letters = [c for c in word if c.isalpha()]
    return " ".join(letters), f'<say-as interpret-as="characters">{"".join(letters)}</say-as>'


def digits(rng: np.random.Generator) -> tuple[str, str]:
    text = " ".join(DIGITS[int(d)] for d in rng.integers(0, 10, int(rng.integers(3, 8))))
    return text, text


def command(rng: np.random.Generator) -> tuple[str, str]:
    if rng.random() < 0.6:
        text = str(rng.choice(COMMANDS))
    else:
        n, m, k = (DIGITS[int(i)] for i in rng.integers(1, 10, 3))
        text = str(rng.choice(TEMPLATES)).format(n=n, m=m, k=k)
    return text, text


def sample_text_cmn(rng: np.random.Generator) -> tuple[str, str, str]:
    """(text, spoken, kind) in Mandarin: digit strings or phrases (optionally two joined), no spaces."""
    if rng.random() < 0.4:
        text = "".join(CMN_DIGITS[int(d)] for d in rng.integers(0, 10, int(rng.integers(3, 8))))
        return text, text, "digits"
    text = "".join(str(rng.choice(CMN_PHRASES)) for _ in range(int(rng.integers(1, 3))))
    return text, text, "phrase"


def sample_text(rng: np.random.Generator) -> tuple[str, str, str]:
    """(text, spoken, kind) with the three kinds in equal shares."""
    kind = KINDS[int(rng.integers(len(KINDS)))]
    text, spoken = {"spelled": spelled, "digits": digits, "command": command}[kind](rng)
    return text, spoken, kind


class SentencePool:
    """Sentences from a text file (one per line, or running text split at . ! ?), normalised and
    de-duplicated; sampled without replacement so held-out sentences stay held out."""

    def __init__(self, path: str, min_words: int = 2, max_words: int = 20, language: str = "en"):
        from pathlib import Path

        from harken.synth.normalize import normalize_sentence

        raw = Path(path).read_text(encoding="utf-8", errors="replace")
        pieces = [p for line in raw.splitlines() for p in re.split(r"(?<=[.!?。！？])\s*", line)]
        seen, self.sentences = set(), []
        for piece in pieces:
            if language == "cmn":  # Hanzi only, as the labels of a Mandarin character model
                text = re.sub(r"[^\u4e00-\u9fff]", "", piece)
                size = len(text)
            else:
                text = normalize_sentence(piece)
                size = len(text.split()) if text else 0
            if text and min_words <= size <= max_words and text not in seen:
                seen.add(text)
                self.sentences.append(text)
        if not self.sentences:
            raise ValueError(f"{path}: no usable sentences ({min_words}-{max_words} words, English letters)")

    def words(self, min_letters: int = 3, max_letters: int = 12) -> list[str]:
        """Distinct words of the sentences (letters only), in order of first use: words to spell."""
        found = (w for s in self.sentences for w in s.split() if w.isalpha() and min_letters <= len(w) <= max_letters)
        return list(dict.fromkeys(found))

    def sample(self, rng: np.random.Generator) -> tuple[str, str, str]:
        text = self.sentences[int(rng.integers(len(self.sentences)))]
        return text, text, "sentence"
