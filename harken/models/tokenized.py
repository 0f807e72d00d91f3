"""What the speech-to-text families share beyond the model base: a new tokenizer from a folder or a character
list (`change_vocabulary`), the tokenizer files an archive must keep, and the old `decoder=` keyword."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harken.text.bpe_tokenizer import BPETokenizer
from harken.text.build import NEMO_PREFIX, Tokenizer
from harken.text.char_tokenizer import CharTokenizer
from harken.text.wordpiece_tokenizer import WordPieceTokenizer


def nemo_transcribe(model, audio, batch_size: int, return_hypotheses: bool, timestamps: bool, progress: bool,
                    decoding, kwargs: dict) -> list:
    """The body of every speech-to-text family's `transcribe()`: NeMo's API over harken's pipeline (texts, or
    `Hypothesis` objects with `return_hypotheses=True` or `timestamps=True`)."""
    from harken.inference.pipeline import transcribe_hypotheses

    decoding = renamed_decoder(decoding, kwargs)
    hyps = transcribe_hypotheses(model, audio, batch_size=batch_size, decoding=decoding, progress=progress,
                                 timestamps=timestamps, keep_log_probs=return_hypotheses or timestamps)
    return hyps if return_hypotheses or timestamps else [h.text for h in hyps]


def renamed_decoder(decoding, kwargs: dict):
    """`decoder=` was the old name of `decoding=`: still accepted; anything else unknown is an error."""
    if "decoder" in kwargs:
        decoding = decoding or kwargs.pop("decoder")
    if kwargs:
        raise TypeError(f"transcribe() got unexpected arguments: {sorted(kwargs)}")
    return decoding


def referenced_artifacts(cfg: dict, artifacts: dict[str, bytes], tokenizer) -> dict[str, bytes]:
    """The archive members the config points at (`nemo:NAME`), so a re-saved archive keeps them."""
    kept = {}
    for value in (cfg.get("tokenizer") or {}).values():
        if isinstance(value, str) and value.startswith(NEMO_PREFIX) and value[len(NEMO_PREFIX):] in artifacts:
            kept[value[len(NEMO_PREFIX):]] = artifacts[value[len(NEMO_PREFIX):]]
    if isinstance(tokenizer, (BPETokenizer, WordPieceTokenizer)) and tokenizer.name not in kept:
        kept[tokenizer.name] = tokenizer.model_proto
    return kept


# NeMo's tokenizer folder: the file each type reads, and the extra files its archives carry along
TOKENIZER_FILES = {"bpe": ("model_path", "tokenizer.model"), "wpe": ("vocab_path", "vocab.txt")}
EXTRA_FILES = {"bpe": (("vocab_path", "vocab.txt"), ("spe_tokenizer_vocab", "tokenizer.vocab"))}


def new_tokenizer(vocabulary: Sequence[str] | str | Path, kind: str | None = None
                  ) -> tuple[Tokenizer, dict | None, dict[str, bytes]]:
    """(tokenizer, config `tokenizer` section or None for characters, archive artifacts) for a folder or a
    list of characters. `kind` ("bpe"/"wpe", NeMo's `new_tokenizer_type`) is guessed from the folder if absent."""
    if not isinstance(vocabulary, (str, Path)):
        return CharTokenizer(list(vocabulary)), None, {}
    folder = Path(vocabulary)
    if kind is None:
        kind = next((k for k, (_, name) in TOKENIZER_FILES.items() if (folder / name).is_file()), None)
        if kind is None:
            raise FileNotFoundError(f"{folder}: no tokenizer.model (SentencePiece) or vocab.txt (WordPiece) here")
    kind = kind.lower()
    if kind not in TOKENIZER_FILES:
        raise ValueError(f"new_tokenizer_type={kind!r}: use 'bpe' (SentencePiece) or 'wpe' (WordPiece vocab.txt)")
    key, name = TOKENIZER_FILES[kind]
    if not (folder / name).is_file():
        raise FileNotFoundError(f"{folder}: a {kind} tokenizer needs {name} here")
    data = (folder / name).read_bytes()
    tokenizer = BPETokenizer(data) if kind == "bpe" else WordPieceTokenizer.from_bytes(data)
    section, artifacts = {"dir": str(folder), "type": kind, key: NEMO_PREFIX + name}, {name: tokenizer.model_proto}
    for extra_key, extra in EXTRA_FILES.get(kind, ()):  # carried along as NeMo does; harken does not read them
        if (folder / extra).is_file():
            section[extra_key], artifacts[extra] = NEMO_PREFIX + extra, (folder / extra).read_bytes()
    if kind == "bpe" and "vocab_path" not in section:  # NeMo's restore fails without it (it does not read it)
        pieces = ("\n".join(tokenizer.labels) + "\n").encode("utf-8")
        section["vocab_path"], artifacts["vocab.txt"] = NEMO_PREFIX + "vocab.txt", pieces
    return tokenizer, section, artifacts
