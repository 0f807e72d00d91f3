"""Transducer speech recognition (RNNT, TDT) with onnxruntime and numpy alone: a folder exported by
`harken export` (encoder.onnx, decoder.onnx, joiner.onnx, tokens.txt) -> `Transcript`s.

    rec = OnnxTransducerRecognizer("exported/")
    for t in rec.transcribe(["a.wav", "b.flac"]):
        print(t.text, [(w.word, w.start, w.end) for w in t.words])

Numpy features as the CTC recognizer computes them, the encoder graph on a padded batch, then the greedy
search of `runtime.transducer_greedy` per utterance over the decoder and joiner graphs; words, segments and
confidence from `harken.inference.words`, so texts and times equal `harken.Transcriber`'s on the torch model
(a TDT token spans its predicted duration, an RNNT token one frame). Greedy only; recordings are decoded
whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from harken.decoding.results import DecodedSequence
from harken.inference.results import Transcript
from harken.inference.words import build_transcript
from harken.runtime.audio import AudioLike
from harken.runtime.batching import decode_sorted
from harken.runtime.features import FrontEnd, batch_features
from harken.runtime.model_files import build_tokenizer, metadata, model_labels, open_session
from harken.runtime.transducer_greedy import GraphStep, greedy_transducer

GRAPHS = ("encoder.onnx", "decoder.onnx", "joiner.onnx")


class OnnxTransducerRecognizer:
    """`folder`: holds encoder.onnx, decoder.onnx, joiner.onnx (and tokens.txt); the encoder.onnx path works
    too. `max_symbols`: the per-frame token limit (default: the model's, from the export)."""

    def __init__(self, folder: str | Path, tokens: str | Path | None = None, batch_size: int = 8,
                 threads: int | None = None, providers: list[str] | None = None, segment_gap: float = 0.8,
                 max_symbols: int | None = None):
        folder = Path(folder)
        folder = folder.parent if folder.name == "encoder.onnx" else folder
        missing = [name for name in GRAPHS if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder}: no {', '.join(missing)} (a transducer export has {', '.join(GRAPHS)})")
        self.encoder = open_session(folder / "encoder.onnx", threads, providers)
        self.meta = metadata(self.encoder)
        if self.meta.get("kind") != "transducer":
            raise ValueError(f"{folder / 'encoder.onnx'}: not a transducer exported by harken "
                             f"(kind {self.meta.get('kind') or 'missing'})")
        self.front_end = FrontEnd.from_metadata(self.meta)
        self.labels = model_labels(self.meta, folder / "encoder.onnx", tokens)
        self.tokenizer = build_tokenizer(self.meta, self.labels)
        self.blank_id = int(self.meta.get("blank_id", len(self.labels)))
        self.durations = json.loads(self.meta.get("durations", "[]"))
        stored = int(self.meta.get("max_symbols", 10))
        self.max_symbols = max_symbols if max_symbols is not None else (stored or None)
        self.sample_rate = self.front_end.sample_rate
        self.frame_shift = float(self.meta["frame_shift"])
        self.batch_size, self.segment_gap = batch_size, segment_gap
        self.step = GraphStep(open_session(folder / "decoder.onnx", threads, providers),
                              open_session(folder / "joiner.onnx", threads, providers),
                              int(self.meta["pred_rnn_layers"]), int(self.meta["pred_hidden"]), self.blank_id,
                              self.durations)
        self._inputs = [i.name for i in self.encoder.get_inputs()]

    @property
    def word_pieces(self) -> list[str]:
        return self.tokenizer.word_pieces

    def encode(self, waves: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Waveforms -> (encoder output [B, C, T'], valid frames [B]), the batch run as one padded graph call."""
        feats, lengths = batch_features(list(waves), self.front_end, pad_to=0)
        encoded, encoded_len = self.encoder.run(None, dict(zip(self._inputs, (feats, lengths))))[:2]
        return encoded, encoded_len

    def search(self, encoded: np.ndarray, num_frames: int) -> DecodedSequence:
        """One utterance's encoder output [C, T] -> greedy tokens with frames, durations and log-probs."""
        return greedy_transducer(self.step, encoded, num_frames, self.max_symbols)

    def _decode_batch(self, waves: list[np.ndarray]) -> list[DecodedSequence]:
        encoded, lengths = self.encode(waves)
        return [self.search(encoded[b], int(n)) for b, n in enumerate(lengths)]

    def decode(self, audio: AudioLike | Sequence[AudioLike]) -> Iterator[tuple[str, DecodedSequence, float]]:
        """(name, greedy tokens with frames, seconds) per input, in input order, batched by length."""
        yield from decode_sorted(audio, self.sample_rate, self.batch_size, self._decode_batch)

    def decode_text(self, seq: DecodedSequence) -> str:
        return self.tokenizer.decode(seq.token_ids)

    def __call__(self, audio: AudioLike | Sequence[AudioLike]) -> Iterator[Transcript]:
        for name, seq, seconds in self.decode(audio):
            yield build_transcript(seq, self.decode_text(seq), self.word_pieces, self.frame_shift, seconds, name,
                                   segment_gap=self.segment_gap)

    def transcribe(self, audio: AudioLike | Sequence[AudioLike]) -> list[Transcript]:
        """A Transcript per input (text, words and segments with times, confidence), in input order."""
        return list(self(audio))
