"""The CTC speech recognition model: preprocessor -> (SpecAugment) -> encoder -> CTC decoder.

One class on the model base, built from the `model` section of a NeMo-layout config. Its state-dict
keys equal NeMo's EncDecCTCModel's, so `.nemo` archives interoperate both ways. Transcription lives in
`harken.inference`; `transcribe()` here is the NeMo-compatible wrapper around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from harken.core.typed_module import connect
from harken.decoding.ctc import Search, ctc_decode
from harken.decoding.ctc_greedy import ctc_greedy_decode
from harken.decoding.results import DecodedSequence
from harken.models.base import SpeechModel
from harken.models.targets import MODULES, NEMO_CTC_BPE_MODEL_TARGET, NEMO_CTC_MODEL_TARGET
from harken.models.tokenized import nemo_transcribe, new_tokenizer, referenced_artifacts
from harken.text.bpe_tokenizer import BPETokenizer
from harken.text.build import NEMO_PREFIX, build_tokenizer
from harken.text.wordpiece_tokenizer import WordPieceTokenizer


class CTCModel(SpeechModel):
    nemo_target = NEMO_CTC_MODEL_TARGET

    def __init__(self, cfg: dict, artifacts: dict[str, bytes] | None = None):
        """`cfg`: a model section (or a whole config); `artifacts`: files it refers to as `nemo:NAME`."""
        super().__init__(cfg)
        cfg = self.cfg
        self.tokenizer = build_tokenizer(cfg, artifacts)
        classes = getattr(self.decoder, "num_classes_with_blank", None)
        if classes is not None and classes != self.tokenizer.vocab_size + 1:
            raise ValueError(f"decoder.num_classes gives {classes - 1} tokens (+ blank) but the tokenizer has "
                             f"{self.tokenizer.vocab_size}: set model.decoder.num_classes={self.tokenizer.vocab_size}")
        self.artifacts = referenced_artifacts(cfg, artifacts or {}, self.tokenizer)
        connect(self.encoder, self.decoder)

    def export_config(self) -> dict:
        cfg = super().export_config()
        subword = isinstance(self.tokenizer, (BPETokenizer, WordPieceTokenizer))
        if subword:  # the tokenizer file travels inside the archive
            key = "model_path" if isinstance(self.tokenizer, BPETokenizer) else "vocab_path"
            cfg["tokenizer"] = {**cfg["tokenizer"], key: NEMO_PREFIX + self.tokenizer.name}
        cfg["target"] = NEMO_CTC_BPE_MODEL_TARGET if subword else NEMO_CTC_MODEL_TARGET
        return cfg

    def change_vocabulary(self, new_vocabulary: Sequence[str] | str | Path) -> None:
        """Swap the vocabulary for fine-tuning: a new CTC head, the encoder untouched.

        A list of characters makes a character model; a folder holding a SentencePiece
        `tokenizer.model` (or a WordPiece `vocab.txt`) makes a subword model. Unlike NeMo, rows of
        tokens present in both vocabularies (and the blank) keep their trained weights, so fine-tuning
        starts from a model that already knows the shared tokens.
        """
        tokenizer, section, artifacts = new_tokenizer(new_vocabulary)  # a missing file fails before any change
        if section is None:
            self.cfg.pop("tokenizer", None)
            self.cfg["labels"] = list(tokenizer.labels)
        else:
            self.cfg["tokenizer"] = section
            self.cfg.pop("labels", None)
        self.artifacts = artifacts
        new_labels, old_labels, old_decoder = list(tokenizer.labels), self.labels, self.decoder
        dec_cfg = {**self.cfg["decoder"], "num_classes": len(new_labels), "vocabulary": new_labels}
        decoder = MODULES.instantiate(dec_cfg).to(self.device)
        old_w, new_w = old_decoder.decoder_layers[0], decoder.decoder_layers[0]
        old_index = {label: i for i, label in enumerate(old_labels)}
        with torch.no_grad():
            for j, label in enumerate(new_labels):
                if label in old_index:
                    new_w.weight[j], new_w.bias[j] = old_w.weight[old_index[label]], old_w.bias[old_index[label]]
            new_w.weight[-1], new_w.bias[-1] = old_w.weight[-1], old_w.bias[-1]  # blank
        self.decoder, self.tokenizer = decoder, tokenizer
        connect(self.encoder, self.decoder)
        self.cfg["decoder"] = dec_cfg
        for section in ("train_ds", "validation_ds", "test_ds"):
            if isinstance(self.cfg.get(section), dict) and "labels" in self.cfg[section]:
                self.cfg[section]["labels"] = new_labels

    # ------------------------------------------------------------------ properties
    @property
    def labels(self) -> list[str]:
        return list(self.tokenizer.labels)

    @property
    def blank_id(self) -> int:
        return self.decoder.blank_id

    # ------------------------------------------------------------------ compute
    def forward(self, input_signal: torch.Tensor, input_signal_length: torch.Tensor, pad_to: int | None = None):
        """Waveforms [B, T] -> (log_probs [B, T', V+1], encoded_len [B], greedy_predictions [B, T'])."""
        encoded, encoded_len = self.encode(input_signal, input_signal_length, pad_to=pad_to)
        log_probs = self.ctc_log_probs(encoded)
        return log_probs, encoded_len, log_probs.argmax(dim=-1)

    def ctc_log_probs(self, encoded: torch.Tensor) -> torch.Tensor:
        """The CTC head's log-probs [B, T, V+1] of encoder output [B, C, T]."""
        return self.decoder(encoded)

    def ctc_loss(self, log_probs: torch.Tensor, encoded_len: torch.Tensor, targets: torch.Tensor,
                 target_len: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of each utterance's CTC loss; impossible alignments count as 0."""
        losses = nn.functional.ctc_loss(
            log_probs.transpose(0, 1).float(), targets, encoded_len, target_len,
            blank=self.blank_id, reduction="none", zero_infinity=True,
        )
        return losses.mean()

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """Greedy texts of a batch of log-probs (validation during training)."""
        return [self.tokenizer.decode(ids) for ids in ctc_greedy_decode(log_probs, lengths, self.blank_id)]

    def decode_waves(self, waves: torch.Tensor, lengths: torch.Tensor, decoding: Search | None = None,
                     keep_log_probs: bool = False) -> list[DecodedSequence]:
        """The pipeline's entry: padded waveforms -> one DecodedSequence per row (greedy without `decoding`).
        NeMo's transcribe runs the front end with `pad_to=0`; so does this, for equal outputs."""
        log_probs, enc_len, _ = self(waves, lengths, pad_to=0)
        return ctc_decode(log_probs, enc_len, self.blank_id, decoding, keep_log_probs)

    def decode_text(self, seq: DecodedSequence) -> str:
        return self.tokenizer.decode(seq.token_ids)

    @property
    def word_pieces(self) -> list[str]:
        return self.tokenizer.word_pieces

    # ------------------------------------------------------------------ transcription
    def transcribe(self, audio: Any, batch_size: int = 8, return_hypotheses: bool = False, timestamps: bool = False,
                   progress: bool = False, decoding: Search | None = None, **kwargs) -> list:
        """Transcribe files, float arrays or tensors at the model's rate, or manifest rows (with `offset`/
        `duration`): a list of strings, or of `Hypothesis` with `return_hypotheses=True` (NeMo's API).
        `timestamps=True` fills `Hypothesis.timestamp` as NeMo does (and returns hypotheses). `decoding`: a
        search such as `BeamSearchDecoder` (greedy without one). The model's train/eval state is left
        exactly as it was; nothing is written to disk. For words, segments and confidence use
        `harken.inference.Transcriber`, which yields typed results."""
        return nemo_transcribe(self, audio, batch_size, return_hypotheses, timestamps, progress, decoding, kwargs)


ASRModel = CTCModel  # the name harken used before transducers came
