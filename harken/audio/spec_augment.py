"""SpecAugment: frequency and time masks, plus rectangular cut-outs (NeMo's SpectrogramAugmentation).

Applied by the model only in training. Masks are drawn per row; time masks are sized and placed
within each row's valid length, so padding never absorbs a mask.
"""

from __future__ import annotations

import torch

from harken.core.neural_types import LengthsType, NeuralType, SpectrogramType
from harken.core.typed_module import TypedModule


class SpectrogramAugmentation(TypedModule):
    input_types = {
        "input_spec": NeuralType(("B", "D", "T"), SpectrogramType()),
        "length": NeuralType(("B",), LengthsType()),
    }
    output_types = {"augmented_spec": NeuralType(("B", "D", "T"), SpectrogramType())}

    def __init__(
        self,
        freq_masks: int = 0,
        time_masks: int = 0,
        freq_width: int = 10,
        time_width: int | float = 10,
        rect_masks: int = 0,
        rect_time: int = 5,
        rect_freq: int = 20,
        mask_value: float = 0.0,
        **ignored,
    ):
        super().__init__()
        self.freq_masks, self.time_masks = freq_masks, time_masks
        self.freq_width, self.time_width = freq_width, time_width
        self.rect_masks, self.rect_time, self.rect_freq = rect_masks, rect_time, rect_freq
        self.mask_value = mask_value

    @torch.no_grad()
    def forward(self, input_spec: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
        b, d, t = input_spec.shape
        dev = input_spec.device
        mask = torch.zeros(b, d, t, dtype=torch.bool, device=dev)
        freqs = torch.arange(d, device=dev)[None, :]
        times = torch.arange(t, device=dev)[None, :]
        lengths = length.to(dev).clamp(min=1)

        def spans(n: int, width_max: torch.Tensor, extent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            width = (torch.rand(b, n, device=dev) * (width_max[:, None] + 1)).long()
            room = (extent[:, None] - width).clamp(min=1)
            start = (torch.rand(b, n, device=dev) * room).long()
            return start, width

        full_d = torch.full((b,), d, device=dev)
        for _ in range(self.freq_masks):
            start, width = spans(1, torch.full((b,), self.freq_width, device=dev), full_d)
            mask |= ((freqs >= start) & (freqs < start + width))[:, :, None]
        if self.time_masks:
            if isinstance(self.time_width, float):
                tmax = (lengths.float() * self.time_width).long()
            else:
                tmax = torch.full((b,), int(self.time_width), device=dev)
            for _ in range(self.time_masks):
                start, width = spans(1, tmax, lengths)
                mask |= ((times >= start) & (times < start + width))[:, None, :]
        for _ in range(self.rect_masks):
            ts, tw = spans(1, torch.full((b,), self.rect_time, device=dev), lengths)
            fs, fw = spans(1, torch.full((b,), self.rect_freq, device=dev), full_d)
            in_t = (times >= ts) & (times < ts + tw)
            in_f = (freqs >= fs) & (freqs < fs + fw)
            mask |= in_f[:, :, None] & in_t[:, None, :]
        return input_spec.masked_fill(mask, self.mask_value)
