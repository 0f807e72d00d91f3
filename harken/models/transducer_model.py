"""Transducer speech recognition (NeMo's EncDecRNNTBPEModel and EncDecHybridRNNTCTCBPEModel: Parakeet's
RNNT, TDT and hybrid TDT/RNNT + CTC): preprocessor -> encoder -> prediction network + joint (and an optional
CTC head).

One class covers the three: TDT is read from `decoding.model_type` (or a `tdt` loss) with its durations from
the config, and a hybrid is a model whose config has `aux_ctc`. `change_decoding_strategy(decoder_type=...)`
picks the head used at decode time, as NeMo's API does; `transcribe(timestamps=True)` leaves the config
alone (NeMo writes `compute_timestamps` into it); `change_vocabulary` prepares fine-tuning on a new tokenizer
(`transducer_vocabulary`). State-dict keys equal NeMo's, so archives go both ways.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from harken.core.typed_module import connect
from harken.decoding.ctc import ctc_decode
from harken.decoding.results import DecodedSequence
from harken.decoding.transducer_beam import BeamTransducer
from harken.decoding.transducer_greedy import GreedyTransducer
from harken.models.base import SpeechModel
from harken.models.targets import (
    MODULES,
    NEMO_HYBRID_BPE_MODEL_TARGET,
    NEMO_HYBRID_MODEL_TARGET,
    NEMO_RNNT_BPE_MODEL_TARGET,
    NEMO_RNNT_MODEL_TARGET,
)
from harken.models.tokenized import nemo_transcribe, referenced_artifacts
from harken.modules.rnnt import TransducerHeads
from harken.text.bpe_tokenizer import BPETokenizer
from harken.text.build import NEMO_PREFIX, build_tokenizer
from harken.text.wordpiece_tokenizer import WordPieceTokenizer

GREEDY = ("greedy", "greedy_batch")
TRANSDUCER = (*GREEDY, "beam")  # NeMo's strategy names harken can run on the transducer head


class TransducerModel(SpeechModel):
    nemo_target = NEMO_RNNT_BPE_MODEL_TARGET

    def __init__(self, cfg: dict, artifacts: dict[str, bytes] | None = None):
        """`cfg`: a model section (or a whole config); `artifacts`: files it refers to as `nemo:NAME`."""
        super().__init__(cfg)
        cfg = self.cfg
        self.tokenizer = build_tokenizer(cfg, artifacts)
        self.joint = MODULES.instantiate(cfg["joint"])
        aux = cfg.get("aux_ctc") or None
        self.ctc_decoder = MODULES.instantiate(aux["decoder"]) if aux else None
        vocab = self.tokenizer.vocab_size
        sizes = {"decoder.vocab_size": self.decoder.vocab_size,
                 "joint.num_classes": self.joint.num_classes_with_blank - 1}
        if self.ctc_decoder is not None:
            sizes["aux_ctc.decoder.num_classes"] = self.ctc_decoder.num_classes_with_blank - 1
        wrong = {k: v for k, v in sizes.items() if v != vocab}
        if wrong:
            raise ValueError(f"the tokenizer has {vocab} tokens but {wrong}: set them to {vocab}")
        self.model_type, self.durations = _model_type(cfg)
        if self.model_type == "tdt" and len(self.durations) != self.joint.num_extra_outputs:
            raise ValueError(f"TDT durations {self.durations} but joint.num_extra_outputs="
                             f"{self.joint.num_extra_outputs}: they must have the same length")
        self.cur_decoder = "rnnt"  # NeMo's name for the head decoding uses ("rnnt" or "ctc")
        self.artifacts = referenced_artifacts(cfg, artifacts or {}, self.tokenizer)
        connect(self.encoder, self.joint, {"outputs": "encoder_outputs"})
        if self.ctc_decoder is not None:
            connect(self.encoder, self.ctc_decoder)
        _check_strategy(cfg.get("decoding") or {}, "decoding", allowed=TRANSDUCER)

    # ------------------------------------------------------------------ archives
    def export_config(self) -> dict:
        cfg = super().export_config()
        cfg["joint"]["_target_"] = MODULES.nemo_name(cfg["joint"]["_target_"])
        if cfg.get("aux_ctc"):
            cfg["aux_ctc"]["decoder"]["_target_"] = MODULES.nemo_name(cfg["aux_ctc"]["decoder"]["_target_"])
        subword = isinstance(self.tokenizer, (BPETokenizer, WordPieceTokenizer))
        if subword:  # the tokenizer file travels inside the archive
            key = "model_path" if isinstance(self.tokenizer, BPETokenizer) else "vocab_path"
            cfg["tokenizer"] = {**cfg["tokenizer"], key: NEMO_PREFIX + self.tokenizer.name}
        hybrid = self.ctc_decoder is not None
        cfg["target"] = {(False, True): NEMO_RNNT_BPE_MODEL_TARGET, (False, False): NEMO_RNNT_MODEL_TARGET,
                         (True, True): NEMO_HYBRID_BPE_MODEL_TARGET, (True, False): NEMO_HYBRID_MODEL_TARGET
                         }[hybrid, subword]
        return cfg

    # ------------------------------------------------------------------ properties
    @property
    def labels(self) -> list[str]:
        return list(self.tokenizer.labels)

    @property
    def blank_id(self) -> int:
        return self.decoder.blank_idx

    @property
    def heads(self) -> TransducerHeads:
        """The prediction network and joint behind the decoding step protocol."""
        return TransducerHeads(self.decoder, self.joint, self.durations if self.model_type == "tdt" else ())

    @property
    def max_symbols(self) -> int | None:
        greedy = (self.cfg.get("decoding") or {}).get("greedy") or {}
        value = greedy.get("max_symbols") or greedy.get("max_symbols_per_step")
        return 10 if value is None else int(value)

    @property
    def search(self) -> GreedyTransducer | BeamTransducer:
        """The transducer search `decoding.strategy` names: greedy, or NeMo's `beam` (its `default` search; NeMo
        ignores `beam.search_type` for this strategy, and so does harken)."""
        decoding = self.cfg.get("decoding") or {}
        if decoding.get("strategy", "greedy_batch") != "beam":
            return GreedyTransducer(self.max_symbols)
        beam = decoding.get("beam") or {}
        return BeamTransducer(beam_size=int(beam.get("beam_size", 4)), score_norm=bool(beam.get("score_norm", True)),
                              softmax_temperature=float(beam.get("softmax_temperature", 1.0)))

    @property
    def timestamp_kind(self) -> str:
        """How `nemo_timestamps` reads this model's results: "ctc" for the CTC head, else "rnnt" / "tdt"."""
        return "ctc" if self.cur_decoder == "ctc" else self.model_type

    # ------------------------------------------------------------------ decoding choice (NeMo's API)
    def change_decoding_strategy(self, decoding_cfg: dict | None = None, decoder_type: str | None = None,
                                 verbose: bool = True) -> None:
        """Pick the head decoding uses (`decoder_type` "rnnt" or "ctc"; hybrids only for "ctc") and, with
        `decoding_cfg`, store that head's decoding section in the config as NeMo does. The model's own
        `model_type` and `durations` are kept when the new section leaves them out. Strategies: greedy, and on
        the transducer head `beam` (`beam.beam_size`, NeMo's default 4; see `search`)."""
        head = decoder_type or "rnnt"
        if head not in ("rnnt", "ctc"):
            raise ValueError(f"decoder_type={decoder_type!r}: use 'rnnt' or 'ctc'")
        if head == "ctc" and self.ctc_decoder is None:
            raise ValueError("decoder_type='ctc': this model has no CTC head (no aux_ctc in its config)")
        if decoding_cfg is not None:
            new = copy.deepcopy(dict(decoding_cfg))
            if head == "ctc":
                _check_strategy(new, "aux_ctc.decoding", strict=True)
                self.cfg["aux_ctc"]["decoding"] = new
            else:
                _check_strategy(new, "decoding", strict=True, allowed=TRANSDUCER)
                old = self.cfg.get("decoding") or {}
                for key in ("model_type", "durations"):
                    if key in old and key not in new:
                        new[key] = copy.deepcopy(old[key])
                self.cfg["decoding"] = new
        self.cur_decoder = head

    def change_vocabulary(self, new_vocabulary: Sequence[str] | str | Path | None = None,
                          new_tokenizer_type: str | None = None, decoding_cfg: dict | None = None,
                          ctc_decoding_cfg: dict | None = None, new_tokenizer_dir: str | Path | None = None) -> None:
        """Swap the vocabulary for fine-tuning: a tokenizer folder (SentencePiece `tokenizer.model`, or WordPiece
        `vocab.txt`; `new_tokenizer_type` "bpe"/"wpe" as NeMo's) or a list of characters. New embedding, joint
        output layer and CTC head; the encoder is untouched, and rows of shared tokens, the blank and TDT's
        duration outputs keep their trained weights (see `transducer_vocabulary`). `decoding_cfg` and
        `ctc_decoding_cfg` set the heads' decoding sections, as NeMo's `change_vocabulary` does."""
        from harken.models.transducer_vocabulary import new_tokenizer, swap_vocabulary

        vocabulary = new_vocabulary if new_vocabulary is not None else new_tokenizer_dir
        if vocabulary is None:
            raise TypeError("change_vocabulary: give a tokenizer folder or a list of characters")
        tokenizer = new_tokenizer(vocabulary, new_tokenizer_type)  # a missing file fails before anything changes
        head = self.cur_decoder
        if decoding_cfg is not None:
            self.change_decoding_strategy(decoding_cfg, decoder_type="rnnt")
        if ctc_decoding_cfg is not None:
            self.change_decoding_strategy(ctc_decoding_cfg, decoder_type="ctc")
        self.cur_decoder = head
        swap_vocabulary(self, *tokenizer)

    # ------------------------------------------------------------------ compute
    def forward(self, input_signal: torch.Tensor, input_signal_length: torch.Tensor, pad_to: int | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Waveforms [B, T] -> (encoded [B, C, T'], encoded_len [B]), as NeMo's transducer forward."""
        return self.encode(input_signal, input_signal_length, pad_to=pad_to)

    def decode_encoded(self, encoded: torch.Tensor, encoded_len: torch.Tensor, decoding=None,
                       keep_log_probs: bool = False) -> list[DecodedSequence]:
        """Encoder output -> one DecodedSequence per row, with the current head. `decoding`: for the
        transducer head a search called as `decoding(heads, encoded, lengths)` (greedy without one); for the
        CTC head a CTC search (log-probs -> ids), as CTCModel takes."""
        if self.cur_decoder == "ctc":
            return ctc_decode(self.ctc_log_probs(encoded), encoded_len, self.ctc_decoder.blank_id, decoding,
                              keep_log_probs)
        return self.transducer_search(decoding)(self.heads, encoded, encoded_len)

    def ctc_log_probs(self, encoded: torch.Tensor) -> torch.Tensor:
        """The CTC head's log-probs [B, T, V+1] of encoder output [B, C, T] (hybrids only)."""
        return self.ctc_decoder(encoded)

    def transducer_search(self, decoding=None):
        """The search the transducer head runs: `decoding`, else the config's (`search`). A CTC search handed
        to this head is refused here, before any audio is encoded."""
        if decoding is not None and not getattr(decoding, "transducer_search", False):
            raise ValueError(f"{type(decoding).__name__} is not a transducer search; the transducer head takes "
                             "GreedyTransducer or BeamTransducer (harken.decoding.transducer_beam)"
                             + (", and CTC searches run on the CTC head: change_decoding_strategy(decoder_type='ctc')"
                                if self.ctc_decoder is not None else ""))
        return decoding or self.search

    def decode_waves(self, waves: torch.Tensor, lengths: torch.Tensor, decoding=None,
                     keep_log_probs: bool = False) -> list[DecodedSequence]:
        """The pipeline's entry: padded waveforms -> one DecodedSequence per row. The front end runs with
        `pad_to=0`, as NeMo's transcribe does."""
        encoded, encoded_len = self(waves, lengths, pad_to=0)
        return self.decode_encoded(encoded, encoded_len, decoding, keep_log_probs)

    def decode_text(self, seq: DecodedSequence) -> str:
        return self.tokenizer.decode(seq.token_ids)

    @property
    def word_pieces(self) -> list[str]:
        return self.tokenizer.word_pieces

    # ------------------------------------------------------------------ transcription
    def transcribe(self, audio: Any, batch_size: int = 8, return_hypotheses: bool = False, timestamps: bool = False,
                   progress: bool = False, decoding=None, **kwargs) -> list:
        """NeMo's `transcribe`: files, arrays, tensors or manifest rows -> texts, or `Hypothesis` objects with
        `return_hypotheses=True` or `timestamps=True` (NeMo's transducer timestamp dict; for the CTC head,
        NeMo's CTC one). The model's train/eval state and config are left as they were."""
        return nemo_transcribe(self, audio, batch_size, return_hypotheses, timestamps, progress, decoding, kwargs)


def _model_type(cfg: dict) -> tuple[str, list[int]]:
    """("rnnt", []) or ("tdt", durations) from `decoding.model_type`, else from a `tdt` loss."""
    decoding, loss = cfg.get("decoding") or {}, cfg.get("loss") or {}
    kind = decoding.get("model_type") or ("tdt" if loss.get("loss_name") == "tdt" else "rnnt")
    if kind == "rnnt":
        return "rnnt", []
    if kind != "tdt":
        raise ValueError(f"decoding.model_type={kind!r}: harken supports rnnt and tdt")
    durations = (decoding.get("durations") or (loss.get("tdt_kwargs") or {}).get("durations")
                 or (cfg.get("model_defaults") or {}).get("tdt_durations"))
    if not durations:
        raise ValueError("a TDT model needs its durations: decoding.durations (or loss.tdt_kwargs.durations)")
    return "tdt", [int(d) for d in durations]


def _check_strategy(section: dict, where: str, strict: bool = False, allowed: tuple[str, ...] = GREEDY) -> None:
    """A config asking for a strategy harken lacks is decoded greedily with a warning (a checkpoint's
    default), or refused when asked for explicitly."""
    strategy = section.get("strategy", "greedy_batch")
    if strategy == "beam" and strategy in allowed:
        beam = section.get("beam") or {}
        size = beam.get("beam_size", 4)
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"{where}.beam.beam_size={size!r}: must be an integer of at least 1")
        if beam.get("return_best_hypothesis", True) is False:  # NeMo then returns n-best lists
            message = f"{where}.beam.return_best_hypothesis=false: harken returns the best hypothesis only"
            if strict:
                raise NotImplementedError(message)
            warnings.warn(message, stacklevel=3)
        return
    if strategy in allowed:
        return
    message = f"{where}.strategy={strategy!r}: harken has no such transducer/CTC search yet"
    if strict:
        raise NotImplementedError(message + f"; use one of {allowed}")
    warnings.warn(message + "; decoding greedily", stacklevel=3)
