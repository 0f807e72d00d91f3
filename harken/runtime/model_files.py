"""Opening an exported model: the onnxruntime session, its metadata, `tokens.txt` and the tokenizer.

Everything the runtime needs is in the `.onnx` metadata (written by `harken.export`); `tokens.txt` beside
the model is read as sherpa-onnx reads it and checked against the metadata's labels, so a stale or foreign
tokens file is an error instead of silently wrong text.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path


def open_session(path: str | Path, threads: int | None = None, providers: list[str] | None = None):
    """An onnxruntime InferenceSession on `path` (CPU unless `providers` says otherwise)."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: ONNX model not found")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=providers or ["CPUExecutionProvider"])


def metadata(session) -> dict[str, str]:
    return dict(session.get_modelmeta().custom_metadata_map)


def read_tokens(path: str | Path) -> list[str]:
    """sherpa-onnx's tokens.txt -> labels by id, the blank (last line) left out. A line holding only an id
    is the space token."""
    table: dict[int, str] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        token, _, idx = line.rpartition(" ")
        if not idx.strip().isdigit():
            raise ValueError(f"{path}:{n}: expected '<token> <id>', got {line!r}")
        table[int(idx)] = token if token.strip() else " "
    if sorted(table) != list(range(len(table))):
        raise ValueError(f"{path}: ids are not 0..{len(table) - 1}")
    labels = [table[i] for i in range(len(table))]
    return labels[:-1] if labels and labels[-1] == "<blk>" else labels


def model_labels(meta: dict[str, str], model_path: str | Path, tokens: str | Path | None = None) -> list[str]:
    """Token labels (no blank): `tokens` or the tokens.txt beside the model when there is one, checked
    against the labels in the metadata."""
    stored = json.loads(meta["labels"]) if "labels" in meta else None
    path = Path(tokens) if tokens else Path(model_path).parent / "tokens.txt"
    if not path.is_file():
        if tokens:
            raise FileNotFoundError(f"{path}: tokens file not found")
        if stored is None:
            raise ValueError(f"{model_path}: no labels in the metadata and no tokens.txt beside it")
        return stored
    labels = read_tokens(path)
    if stored is not None and labels != stored:
        raise ValueError(f"{path} does not belong to {model_path}: its {len(labels)} tokens differ from the "
                         f"model's {len(stored)} (another export into the same folder?)")
    return labels


def build_tokenizer(meta: dict[str, str], labels: list[str]):
    """harken's own tokenizer for the model's vocabulary (torch-free), so text equals the torch pipeline's.
    SentencePiece models use the embedded model when sentencepiece is installed; else the pieces are joined,
    "▁" read as a space (what sherpa-onnx does)."""
    from harken.text.char_tokenizer import CharTokenizer
    from harken.text.wordpiece_tokenizer import WordPieceTokenizer

    kind = meta.get("tokenizer_type") or ("bpe" if any("▁" in t for t in labels) else "char")
    if kind == "char":
        return CharTokenizer(labels)
    if kind == "wpe":
        return WordPieceTokenizer(labels)
    if kind == "bpe" and meta.get("tokenizer_model"):
        try:
            from harken.text.bpe_tokenizer import BPETokenizer

            return BPETokenizer(base64.b64decode(meta["tokenizer_model"]))
        except ImportError:
            pass
    return PieceTokenizer(labels)


class PieceTokenizer:
    """SentencePiece pieces decoded from their labels alone (no sentencepiece package needed)."""

    def __init__(self, labels: list[str]):
        self.labels = list(labels)

    @property
    def word_pieces(self) -> list[str]:
        return [lab.replace("▁", " ") for lab in self.labels]

    def decode(self, ids) -> str:
        pieces = self.word_pieces
        return "".join(pieces[i] for i in ids if 0 <= i < len(pieces)).strip()
