"""Pick the tokenizer a model config describes: characters from `labels`, or a SentencePiece model."""

from __future__ import annotations

from pathlib import Path

from harken.text.bpe_tokenizer import BPETokenizer
from harken.text.char_tokenizer import CharTokenizer

Tokenizer = CharTokenizer | BPETokenizer
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
    if kind != "bpe":
        raise ValueError(f"tokenizer.type={kind!r}: harken supports SentencePiece ('bpe') tokenizers so far")
    name, data = _tokenizer_model(section, artifacts or {})
    return BPETokenizer(data, name=name)


def _tokenizer_model(section: dict, artifacts: dict[str, bytes]) -> tuple[str, bytes]:
    ref = section.get("model_path")
    if isinstance(ref, str) and ref.startswith(NEMO_PREFIX):
        name = ref[len(NEMO_PREFIX):]
        if name not in artifacts:
            raise ValueError(f"tokenizer.model_path {ref}: the archive has no member {name}")
        return name, artifacts[name]
    candidates = [Path(ref)] if ref else []
    if section.get("dir"):
        candidates.append(Path(section["dir"]) / "tokenizer.model")
    for path in candidates:
        if path.is_file():
            return "tokenizer.model", path.read_bytes()
    raise ValueError(f"tokenizer: no SentencePiece model found (model_path={ref!r}, dir={section.get('dir')!r})")
