"""Pick the tokenizer a model config describes: characters from `labels`, or a SentencePiece model."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from harken.text.bpe_tokenizer import BPETokenizer
from harken.text.char_tokenizer import CharTokenizer
from harken.text.wordpiece_tokenizer import WordPieceTokenizer

Tokenizer = CharTokenizer | BPETokenizer | WordPieceTokenizer
NEMO_PREFIX = "nemo:"


def build_tokenizer(cfg: dict, artifacts: dict[str, bytes] | None = None) -> Tokenizer:
    """`cfg` is a model section; `artifacts` the extra members of the archive it came from (None: the config
    came from a file on this machine, so its tokenizer paths may name files here)."""
    section = cfg.get("tokenizer")
    if not section:
        labels = (cfg.get("decoder") or {}).get("vocabulary") or cfg.get("labels")
        if not labels:
            raise ValueError("model config: decoder.vocabulary (or labels) is required for a character model")
        return CharTokenizer(list(labels))
    kind = str(section.get("type", "bpe")).lower()
    if kind == "wpe":
        name, data = _artifact(section, "vocab_path", "vocab.txt", artifacts)
        return WordPieceTokenizer.from_bytes(data, name=name)
    if kind != "bpe":
        raise ValueError(f"tokenizer.type={kind!r}: use bpe (SentencePiece) or wpe (WordPiece vocab.txt)")
    name, data = _artifact(section, "model_path", "tokenizer.model", artifacts)
    return BPETokenizer(data, name=name)


def _artifact(section: dict, key: str, default_name: str, artifacts: dict[str, bytes] | None) -> tuple[str, bytes]:
    """The file `section[key]` names. From an archive, only its own members: `nemo:NAME`, or a path's base
    name (old NeMo archives keep the path they were saved from) — never a file on this machine, which a
    crafted archive could otherwise read and copy into the next archive saved. From a config on disk
    (`artifacts` None): a path, or DEFAULT_NAME in `dir`."""
    ref = section.get(key)
    if ref is not None and not isinstance(ref, str):
        raise ValueError(f"tokenizer.{key}: expected a file name, got {type(ref).__name__}")
    if isinstance(ref, str) and ref.startswith(NEMO_PREFIX):
        name = ref[len(NEMO_PREFIX):]
        if name not in (artifacts or {}):
            raise ValueError(f"tokenizer.{key} {ref}: the archive has no member {name}")
        return name, artifacts[name]
    if artifacts is not None:
        names = [PurePosixPath(ref.replace("\\", "/")).name] if isinstance(ref, str) and ref else []
        for name in [*names, default_name]:
            if name in artifacts:
                return name, artifacts[name]
        raise ValueError(f"tokenizer.{key}={ref!r}: the archive holds no such file (members: {sorted(artifacts)}); "
                         "harken reads a model's tokenizer only from inside its archive, never from paths on this "
                         "machine")
    candidates = [Path(ref)] if ref else []
    if section.get("dir"):
        candidates.append(Path(section["dir"]) / default_name)
    for path in candidates:
        if path.is_file():
            return default_name, path.read_bytes()
    raise ValueError(f"tokenizer: no {default_name} found ({key}={ref!r}, dir={section.get('dir')!r})")
