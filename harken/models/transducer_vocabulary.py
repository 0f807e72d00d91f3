"""A new vocabulary for a transducer (and a hybrid's CTC head), for fine-tuning on another alphabet or tokenizer.

Only the layers whose size is the vocabulary are rebuilt: the prediction network's embedding, the joint's output
layer and the CTC head. Rows of tokens both vocabularies share, the blank and TDT's duration outputs keep their
trained weights, and so do the LSTM and the joint's projections (NeMo rebuilds the whole decoder and joint with
random weights; keeping what still fits gives fine-tuning a head start). The encoder is not touched.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from harken.core.typed_module import connect
from harken.models.targets import MODULES
from harken.models.tokenized import new_tokenizer  # noqa: F401  (its callers import it from here too)
from harken.text.build import Tokenizer


def rebuilt(old: nn.Module, cfg: dict, vocab_keys: Sequence[str], rows: list[tuple[int, int]]) -> nn.Module:
    """A module built from `cfg` that keeps `old`'s weights: all of them where shapes agree, except `vocab_keys`,
    whose (new, old) `rows` are copied; the new rows stay randomly initialised."""
    new = MODULES.instantiate(cfg)
    weight = next(old.parameters())
    new = new.to(device=weight.device, dtype=weight.dtype).train(old.training)
    state, old_state = new.state_dict(), old.state_dict()
    for key, value in old_state.items():
        if key not in vocab_keys and key in state and state[key].shape == value.shape:
            state[key] = value.clone()
    if rows:
        new_idx, old_idx = (torch.tensor(i, device=weight.device) for i in zip(*rows))
        for key in vocab_keys:
            state[key][new_idx] = old_state[key][old_idx]
    new.load_state_dict(state)
    return new


def shared_rows(new_labels: Sequence[str], old_labels: Sequence[str]) -> list[tuple[int, int]]:
    """(new id, old id) of every token in both vocabularies (first occurrence in the old one)."""
    old_index: dict[str, int] = {}
    for i, label in enumerate(old_labels):
        old_index.setdefault(label, i)
    return [(j, old_index[label]) for j, label in enumerate(new_labels) if label in old_index]


def head_rows(new_labels: Sequence[str], old_labels: Sequence[str], extra: int = 0) -> list[tuple[int, int]]:
    """Output-layer rows to keep: shared tokens, the blank (after the tokens) and `extra` outputs after it."""
    n, m = len(new_labels), len(old_labels)
    return shared_rows(new_labels, old_labels) + [(n + i, m + i) for i in range(1 + extra)]


def swap_vocabulary(model: nn.Module, tokenizer: Tokenizer, section: dict | None,
                    artifacts: dict[str, bytes]) -> None:
    """Give `model` the vocabulary of `tokenizer` (see the module docstring); config and artifacts follow."""
    cfg, new, old = model.cfg, list(tokenizer.labels), model.labels
    n = len(new)
    cfg["decoder"] = {**cfg["decoder"], "vocab_size": n}
    blank = [(n, len(old))] if model.decoder.blank_as_pad else []  # the blank's (padding) row
    model.decoder = rebuilt(model.decoder, cfg["decoder"], ["prediction.embed.weight"],
                            shared_rows(new, old) + blank)
    cfg["joint"] = {**cfg["joint"], "num_classes": n, "vocabulary": new}
    out = f"joint_net.{len(model.joint.joint_net) - 1}"
    model.joint = rebuilt(model.joint, cfg["joint"], [f"{out}.weight", f"{out}.bias"],
                          head_rows(new, old, model.joint.num_extra_outputs))
    connect(model.encoder, model.joint, {"outputs": "encoder_outputs"})
    if model.ctc_decoder is not None:
        cfg["aux_ctc"]["decoder"] = {**cfg["aux_ctc"]["decoder"], "num_classes": n, "vocabulary": new}
        model.ctc_decoder = rebuilt(model.ctc_decoder, cfg["aux_ctc"]["decoder"],
                                    ["decoder_layers.0.weight", "decoder_layers.0.bias"], head_rows(new, old))
        connect(model.encoder, model.ctc_decoder)
    if section is None:
        cfg.pop("tokenizer", None)
    else:
        cfg["tokenizer"] = section
    cfg["labels"] = new  # NeMo keeps the vocabulary here for subword models too
    for name in ("train_ds", "validation_ds", "test_ds"):
        if isinstance(cfg.get(name), dict) and "labels" in cfg[name]:
            cfg[name]["labels"] = new
    model.tokenizer, model.artifacts = tokenizer, artifacts
