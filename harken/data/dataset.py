"""Utterances -> (waveform, token ids) pairs, and the collate function that pads them into a batch.

The transcripts are checked once, up front: a manifest whose text is mostly outside the model's
vocabulary (wrong language, upper-case-only labels, a broken export) fails before training starts
instead of silently training on empty targets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from harken.audio.io import load_audio
from harken.data.manifest import ManifestEntry
from harken.text.char_tokenizer import CharTokenizer, OutOfVocabularyError

Augmentor = Callable[[np.ndarray, int], np.ndarray]  # (waveform, sample_rate) -> waveform


class AudioTextDataset(Dataset):
    def __init__(
        self,
        entries: Sequence[ManifestEntry],
        tokenizer: CharTokenizer,
        sample_rate: int,
        max_oov_fraction: float = 0.01,
        augmentor: Augmentor | None = None,
        manifest_path: str = "<manifest>",
    ):
        self.entries = list(entries)
        self.tokenizer, self.sample_rate, self.augmentor = tokenizer, sample_rate, augmentor
        self.tokens = self._encode_all(max_oov_fraction, manifest_path)

    @property
    def durations(self) -> list[float]:
        return [e.duration for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.entries[i]
        audio = load_audio(e.audio_filepath, self.sample_rate, offset=e.offset,
                           duration=e.duration if e.offset and e.duration > 0 else None)
        if self.augmentor is not None:
            audio = self.augmentor(audio, self.sample_rate)
        return torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), self.tokens[i]

    def _encode_all(self, max_oov_fraction: float, manifest_path: str) -> list[torch.Tensor]:
        tokens, unknown, where = [], Counter(), []
        total = dropped = 0
        for e in self.entries:
            text, n_dropped = self.tokenizer.normalize(e.text)
            total += len(text) + n_dropped
            if n_dropped:
                dropped += n_dropped
                unknown.update(self.tokenizer.out_of_vocabulary(e.text))
                where.append(e.where or e.audio_filepath)
            tokens.append(torch.tensor(self.tokenizer.encode(text), dtype=torch.long))
        if total and dropped / total > max_oov_fraction:
            chars = "".join(c for c, _ in unknown.most_common(20))
            raise OutOfVocabularyError(
                f"{manifest_path}: {dropped / total:.1%} of transcript characters are not in the model's labels "
                f"(allowed: {max_oov_fraction:.1%}); unknown characters: {chars!r}; first lines: "
                f"{', '.join(where[:5])}. Fix the text, or change the labels (or raise max_oov_fraction)."
            )
        return tokens


def collate_audio_text(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, ...]:
    """Pad to the longest item: (audio [B, T], audio_len [B], tokens [B, U], token_len [B])."""
    audio_len = torch.tensor([a.shape[0] for a, _ in batch], dtype=torch.long)
    token_len = torch.tensor([t.shape[0] for _, t in batch], dtype=torch.long)
    audio = torch.zeros(len(batch), int(audio_len.max()))
    tokens = torch.zeros(len(batch), max(1, int(token_len.max())), dtype=torch.long)
    for i, (a, t) in enumerate(batch):
        audio[i, : a.shape[0]] = a
        tokens[i, : t.shape[0]] = t
    return audio, audio_len, tokens, token_len
