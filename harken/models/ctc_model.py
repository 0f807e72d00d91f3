"""The CTC speech recognition model: preprocessor -> (SpecAugment) -> encoder -> CTC decoder.

One class, built by composition from the `model` section of a NeMo-layout config. Its state-dict
keys equal NeMo's EncDecCTCModel's, so `.nemo` archives interoperate both ways.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from harken.audio.io import AudioSource, as_waveform, audio_info
from harken.core.config import resolve
from harken.core.registry import (
    NEMO_CTC_BPE_MODEL_TARGET,
    NEMO_CTC_MODEL_TARGET,
    instantiate,
    nemo_target,
)
from harken.core.typed_module import connect
from harken.decoding.ctc_greedy import ctc_greedy_decode
from harken.models.archive import ArchiveError, write_archive
from harken.text.bpe_tokenizer import BPETokenizer
from harken.text.build import NEMO_PREFIX, build_tokenizer
from harken.text.char_tokenizer import CharTokenizer
from harken.text.wordpiece_tokenizer import WordPieceTokenizer


@dataclass
class Hypothesis:
    """One transcription with what produced it."""

    text: str
    tokens: list[int]
    log_probs: torch.Tensor  # [frames, vocabulary + blank], valid frames only
    frame_shift: float  # seconds per output frame, for timestamps


@contextmanager
def inference_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd for the duration, then every submodule's mode exactly as it was."""
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        for m, training in modes.items():
            m.training = training


class ASRModel(nn.Module):
    def __init__(self, cfg: dict, artifacts: dict[str, bytes] | None = None):
        """`cfg`: a model section (or a whole config); `artifacts`: files it refers to as `nemo:NAME`."""
        super().__init__()
        cfg = resolve(cfg)
        cfg = cfg.get("model", cfg)
        self.cfg = cfg
        self.preprocessor = instantiate(cfg["preprocessor"])
        augment = cfg.get("spec_augment")
        self.spec_augmentation = instantiate(augment) if augment else None
        self.encoder = instantiate(cfg["encoder"])
        self.decoder = instantiate(cfg["decoder"])
        self.tokenizer = build_tokenizer(cfg, artifacts)
        classes = getattr(self.decoder, "num_classes_with_blank", None)
        if classes is not None and classes != self.tokenizer.vocab_size + 1:
            raise ValueError(f"decoder.num_classes gives {classes - 1} tokens (+ blank) but the tokenizer has "
                             f"{self.tokenizer.vocab_size}: set model.decoder.num_classes={self.tokenizer.vocab_size}")
        self.artifacts = _referenced_artifacts(cfg, artifacts or {}, self.tokenizer)
        connect(self.preprocessor, self.encoder)
        connect(self.encoder, self.decoder)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, cfg: dict) -> ASRModel:
        return cls(cfg)

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> ASRModel:
        from harken.models.loading import load_model

        model = load_model(path, map_location)
        if not isinstance(model, cls):
            raise ArchiveError(f"{path}: holds a {type(model).__name__}, not a speech recognition model")
        return model

    def save(self, path: str | Path, half: bool = False) -> None:
        """Write a `.nemo` archive that harken and NeMo both load (`half`: weights stored as float16)."""
        write_archive(path, self.export_config(), self.state_dict(), artifacts=self.artifacts, half=half)

    def export_config(self) -> dict:
        cfg = copy.deepcopy(self.cfg)
        for section in ("preprocessor", "spec_augment", "encoder", "decoder"):
            if cfg.get(section) and "_target_" in cfg[section]:
                cfg[section]["_target_"] = nemo_target(cfg[section]["_target_"])
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
        if isinstance(new_vocabulary, (str, Path)):
            folder = Path(new_vocabulary)
            if (folder / "tokenizer.model").is_file():
                tokenizer = BPETokenizer((folder / "tokenizer.model").read_bytes())
                self.cfg["tokenizer"] = {"dir": str(folder), "type": "bpe", "model_path": NEMO_PREFIX + tokenizer.name}
            elif (folder / "vocab.txt").is_file():
                tokenizer = WordPieceTokenizer.from_bytes((folder / "vocab.txt").read_bytes())
                self.cfg["tokenizer"] = {"dir": str(folder), "type": "wpe", "vocab_path": NEMO_PREFIX + tokenizer.name}
            else:
                raise FileNotFoundError(f"{folder}: no tokenizer.model (SentencePiece) or vocab.txt (WordPiece) here")
            self.artifacts = {tokenizer.name: tokenizer.model_proto}
            self.cfg.pop("labels", None)
        else:
            tokenizer = CharTokenizer(list(new_vocabulary))  # validates the labels first
            self.cfg.pop("tokenizer", None)
            self.artifacts = {}
            self.cfg["labels"] = list(tokenizer.labels)
        new_labels, old_labels, old_decoder = list(tokenizer.labels), self.labels, self.decoder
        dec_cfg = {**self.cfg["decoder"], "num_classes": len(new_labels), "vocabulary": new_labels}
        decoder = instantiate(dec_cfg).to(self.device)
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
    def sample_rate(self) -> int:
        return int(self.preprocessor.sample_rate)

    @property
    def labels(self) -> list[str]:
        return list(self.tokenizer.labels)

    @property
    def blank_id(self) -> int:
        return self.decoder.blank_id

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def frame_shift(self) -> float:
        return self.preprocessor.hop_length * self.encoder.subsampling() / self.sample_rate

    # ------------------------------------------------------------------ compute
    def forward(self, input_signal: torch.Tensor, input_signal_length: torch.Tensor, pad_to: int | None = None):
        """Waveforms [B, T] -> (log_probs [B, T', V+1], encoded_len [B], greedy_predictions [B, T'])."""
        feats, feat_len = self.preprocessor(input_signal, input_signal_length, pad_to=pad_to)
        if self.training and self.spec_augmentation is not None:
            feats = self.spec_augmentation(feats, feat_len)
        encoded, encoded_len = self.encoder(feats, feat_len)
        log_probs = self.decoder(encoded)
        return log_probs, encoded_len, log_probs.argmax(dim=-1)

    def ctc_loss(self, log_probs: torch.Tensor, encoded_len: torch.Tensor, targets: torch.Tensor,
                 target_len: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of each utterance's CTC loss; impossible alignments count as 0."""
        losses = nn.functional.ctc_loss(
            log_probs.transpose(0, 1).float(), targets, encoded_len, target_len,
            blank=self.blank_id, reduction="none", zero_infinity=True,
        )
        return losses.mean()

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        return [self.tokenizer.decode(ids) for ids in ctc_greedy_decode(log_probs, lengths, self.blank_id)]

    # ------------------------------------------------------------------ transcription
    def transcribe(
        self,
        audio: AudioSource | Sequence[AudioSource],
        batch_size: int = 8,
        return_hypotheses: bool = False,
        progress: bool = False,
        decoder: Callable[[torch.Tensor], list[int]] | None = None,
    ) -> list[str] | list[Hypothesis]:
        """Transcribe files (any format soundfile reads), float arrays or tensors at the model's rate.

        Batches are formed from length-sorted inputs to minimise padding; results come back in input
        order. The model's train/eval state is left exactly as it was; nothing is written to disk.
        `decoder` maps one utterance's [frames, vocabulary + blank] log-probabilities to token ids
        (e.g. a `BeamSearchDecoder`); greedy decoding without it.
        """
        items = [audio] if isinstance(audio, (str, Path, np.ndarray, torch.Tensor)) else list(audio)
        order = sorted(range(len(items)), key=lambda i: -_seconds(items[i], self.sample_rate))
        results: list = [None] * len(items)
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="transcribe", unit="batch")
        with inference_mode(self):
            for idx in batches:
                waves = [as_waveform(items[i], self.sample_rate) for i in idx]
                for i, hyp in zip(idx, self._transcribe_batch(waves, decoder)):
                    results[i] = hyp if return_hypotheses else hyp.text
        return results

    def _transcribe_batch(self, waves: list[np.ndarray], decoder=None) -> list[Hypothesis]:
        lengths = torch.tensor([len(w) for w in waves], dtype=torch.long)
        batch = torch.zeros(len(waves), max(int(lengths.max()), 1))
        for row, w in zip(batch, waves):
            row[: len(w)] = torch.from_numpy(w)
        log_probs, enc_len, _ = self(batch.to(self.device), lengths.to(self.device), pad_to=0)
        if decoder is None:
            ids = ctc_greedy_decode(log_probs, enc_len, self.blank_id)
        else:
            ids = [decoder(lp[: int(n)]) for lp, n in zip(log_probs, enc_len)]
        return [
            Hypothesis(self.tokenizer.decode(t), t, lp[: int(n)].cpu(), self.frame_shift)
            for t, lp, n in zip(ids, log_probs, enc_len)
        ]


def _seconds(item: AudioSource, sample_rate: int) -> float:
    if isinstance(item, (np.ndarray, torch.Tensor)):
        return float(max(item.shape)) / sample_rate
    try:
        return audio_info(item)[2]
    except ValueError:
        return 0.0  # unreadable: the load will raise a clear error at its turn


def _referenced_artifacts(cfg: dict, artifacts: dict[str, bytes], tokenizer) -> dict[str, bytes]:
    """The archive members the config points at (`nemo:NAME`), so a re-saved archive keeps them."""
    kept = {}
    for value in (cfg.get("tokenizer") or {}).values():
        if isinstance(value, str) and value.startswith(NEMO_PREFIX) and value[len(NEMO_PREFIX):] in artifacts:
            kept[value[len(NEMO_PREFIX):]] = artifacts[value[len(NEMO_PREFIX):]]
    if isinstance(tokenizer, (BPETokenizer, WordPieceTokenizer)) and tokenizer.name not in kept:
        kept[tokenizer.name] = tokenizer.model_proto
    return kept
