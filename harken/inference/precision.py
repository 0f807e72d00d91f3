"""bfloat16 inference on a CPU that computes in it natively (AVX512-BF16 or AMX).

    with inference_dtype(model, "bfloat16"):
        texts = model.transcribe(files)

Matrix products and convolutions then run in bfloat16 under torch.autocast, about twice as fast where the
CPU has bfloat16 instructions; the mel front end and squeeze-excite pooling keep float32 (they switch
autocast off), and log-probabilities reach the decoder in float32. Elsewhere bfloat16 is emulated and
slower than float32, so it is refused rather than silently made slow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def bfloat16_supported() -> bool:
    """True when oneDNN has native bfloat16 kernels on this CPU."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False


@contextlib.contextmanager
def inference_dtype(model: torch.nn.Module, dtype: str = "float32") -> Iterator[None]:
    """Run `model`'s inference inside the block in `dtype` ("float32" or "bfloat16")."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}: use one of {sorted(DTYPES)}")
    if dtype == "float32":
        yield
        return
    device = next(model.parameters()).device.type
    if device != "cpu":
        raise ValueError(f"dtype={dtype}: bfloat16 inference is offered on a CPU only (the model is on {device})")
    if not bfloat16_supported():
        raise ValueError(f"dtype={dtype}: this CPU has no native bfloat16 (AVX512-BF16 or AMX); it would be "
                         "slower than float32")
    with torch.autocast("cpu", dtype=DTYPES[dtype]):
        yield
