"""What the speech-to-text families share beyond the model base: the tokenizer files an archive must keep,
and the old `decoder=` keyword of `transcribe`."""

from __future__ import annotations

from harken.text.bpe_tokenizer import BPETokenizer
from harken.text.build import NEMO_PREFIX
from harken.text.wordpiece_tokenizer import WordPieceTokenizer


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
