"""Speech recognition with onnxruntime and numpy alone: an exported CTC model -> `Transcript`s.

    rec = OnnxRecognizer("model.onnx")          # tokens.txt beside it, or the labels in its metadata
    for t in rec.transcribe(["a.wav", "b.flac"]):
        print(t.text, [(w.word, w.start, w.end, w.confidence) for w in t.words])

The steps are the torch pipeline's, with the same code where it is torch-free: numpy features (the twin of
harken.audio.mel, front end without `pad_to` as `CTCModel.decode_waves` runs it), the graph, greedy CTC from
`harken.decoding.ctc_runs` (or a search such as BeamSearchDecoder, aligned by `ctc_align`; that module still
imports torch itself), words/segments/confidence from `harken.inference.words.build_transcript`. So
texts, times and confidences equal `harken.Transcriber`'s. Inputs are batched by length, as there.
Recordings are decoded whole: chunking of long audio (`inference/long_audio`) is not in the runtime yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from harken.decoding.ctc_align import ctc_align
from harken.decoding.ctc_runs import greedy_sequence
from harken.decoding.results import DecodedSequence
from harken.inference.results import Transcript
from harken.inference.words import build_transcript
from harken.runtime.audio import AudioLike
from harken.runtime.batching import decode_sorted
from harken.runtime.features import FrontEnd, batch_features
from harken.runtime.model_files import build_tokenizer, metadata, model_labels, open_session


class OnnxRecognizer:
    """A CTC model exported by `harken.export`: audio files or arrays (at the model's rate) -> Transcripts.

    `decoding`: a search from one utterance's log-probs to token ids, e.g.
    `BeamSearchDecoder.for_model(recognizer, lm=...)` (beam, LM, hotwords); its tokens get frames from the best
    alignment, as in the torch pipeline. Greedy without one."""

    def __init__(self, model_path: str | Path, tokens: str | Path | None = None, batch_size: int = 8,
                 threads: int | None = None, providers: list[str] | None = None, segment_gap: float = 0.8,
                 decoding: Callable[[np.ndarray], list[int]] | None = None):
        self.session = open_session(model_path, threads, providers)
        self.meta = metadata(self.session)
        if self.meta.get("kind", "ctc") != "ctc":
            raise ValueError(f"{model_path} is a {self.meta['kind']} model: use OnnxClassifier")
        self.front_end = FrontEnd.from_metadata(self.meta)
        self.labels = model_labels(self.meta, model_path, tokens)
        self.tokenizer = build_tokenizer(self.meta, self.labels)
        self.blank_id = int(self.meta.get("blank_id", len(self.labels)))
        self.sample_rate = self.front_end.sample_rate
        sub = int(self.meta.get("subsampling_factor", 1))
        self.frame_shift = float(self.meta.get("frame_shift", self.front_end.hop_length * sub / self.sample_rate))
        self.batch_size, self.segment_gap, self.decoding = batch_size, segment_gap, decoding
        self._inputs = [i.name for i in self.session.get_inputs()]

    @property
    def word_pieces(self) -> list[str]:
        return self.tokenizer.word_pieces

    def log_probs(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each waveform's [valid frames, vocabulary + blank] log-probs, the batch run as one padded graph call."""
        feats, lengths = batch_features(list(waves), self.front_end, pad_to=0)
        out, enc_len = self.session.run(["logprobs", "encoded_lengths"],
                                        dict(zip(self._inputs, (feats, lengths))))[:2]
        return [out[b, : int(n)] for b, n in enumerate(enc_len)]

    def decode(self, audio: AudioLike | Sequence[AudioLike]) -> Iterator[tuple[str, DecodedSequence, float]]:
        """(name, greedy tokens with frames, seconds) per input, in input order, batched by length."""
        yield from decode_sorted(audio, self.sample_rate, self.batch_size,
                                 lambda waves: [self._search(lp) for lp in self.log_probs(waves)])

    def decode_text(self, seq: DecodedSequence) -> str:
        return self.tokenizer.decode(seq.token_ids)

    def _search(self, log_probs: np.ndarray) -> DecodedSequence:
        if self.decoding is None:
            return greedy_sequence(log_probs, self.blank_id)
        return ctc_align(log_probs, self.decoding(log_probs), self.blank_id)

    def __call__(self, audio: AudioLike | Sequence[AudioLike]) -> Iterator[Transcript]:
        for name, seq, seconds in self.decode(audio):
            yield build_transcript(seq, self.decode_text(seq), self.word_pieces, self.frame_shift,
                                   seconds, name, segment_gap=self.segment_gap)

    def transcribe(self, audio: AudioLike | Sequence[AudioLike]) -> list[Transcript]:
        """A Transcript per input (text, words and segments with times, confidence), in input order."""
        return list(self(audio))
