"""Pick the tokenizer a model config describes: characters from `labels`, or a SentencePiece model."""

from __future__ import annotations

from pathlib import Path

from harken.text.bpe_tokenizer import BPETokenizer
from harken.text.char_tokenizer import CharTokenizer
from harken.text.wordpiece_tokenizer import WordPieceTokenizer

Tokenizer = CharTokenizer | BPETokenizer | WordPieceTokenizer
NEMO_PREFIX = "nemo:"


def build_tokenizer(cfg: dict, artifacts: dict[str, bytes] | None = None) -> Tokenizer:
    """`cfg` is a model section; `artifacts` the extra members of the archive it came from."""
    section = cfg.get("tokenizer")
    if not section:
        labels = (cfg.get("decoder") or {}).get("vocabulary") or cfg.get("labels")
        if not labels:
            raise ValueError("model config: decoder.vocabulary (or labels) is required for a character model")
        return CharTokenizer(list(labels))
    kind = str(section.get("type", "bpe")).lower()
    if kind == "wpe":
        name, data = _artifact(section, "vocab_path", "vocab.txt", artifacts or {})
        return WordPieceTokenizer.from_bytes(data, name=name)
    if kind != "bpe":
        raise ValueError(f"tokenizer.type={kind!r}: use bpe (SentencePiece) or wpe (WordPiece vocab.txt)")
    name, data = _artifact(section, "model_path", "tokenizer.model", artifacts or {})
    return BPETokenizer(data, name=name)


def _artifact(section: dict, key: str, default_name: str, artifacts: dict[str, bytes]) -> tuple[str, bytes]:
    """The file `section[key]` names: an archive member (`nemo:NAME`), a path, or DEFAULT_NAME in `dir`."""
    ref = section.get(key)
    if isinstance(ref, str) and ref.startswith(NEMO_PREFIX):
        name = ref[len(NEMO_PREFIX):]
        if name not in artifacts:
            raise ValueError(f"tokenizer.{key} {ref}: the archive has no member {name}")
        return name, artifacts[name]
    candidates = [Path(ref)] if ref else []
    if section.get("dir"):
        candidates.append(Path(section["dir"]) / default_name)
    for path in candidates:
        if path.is_file():
            return default_name, path.read_bytes()
    raise ValueError(f"tokenizer: no {default_name} found ({key}={ref!r}, dir={section.get('dir')!r})")
