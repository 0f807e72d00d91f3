"""int8 weights for an exported graph: onnxruntime's dynamic quantisation.

Weights of MatMul and Conv are stored as int8 (per output channel, which keeps the small depthwise
kernels of QuartzNet and Citrinet accurate); activations are quantised on the fly at run time, so no
calibration data is needed. About 4x smaller; accuracy on the shipped model is measured in the tests. Not
faster for the conv families on a CPU: onnxruntime's ConvInteger plus a DynamicQuantizeLinear per conv ran the
shipped QuartzNet-style model ~2.5x slower than float32 (AVX512-VNNI machine), so int8 is for size.
"""

from __future__ import annotations

import logging
from pathlib import Path

SCHEMES = ("int8",)


def quantize_onnx(src: str | Path, dst: str | Path, scheme: str = "int8") -> Path:
    """Write `dst`, `src` with int8 weights. Metadata is carried over by the caller."""
    if scheme not in SCHEMES:
        raise ValueError(f"quantize={scheme!r}: harken supports {', '.join(SCHEMES)}")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = _DropPreprocessAdvice()
    logging.getLogger().addFilter(quiet)  # the quantizer logs advice about calibration-time pre-processing
    try:
        quantize_dynamic(str(src), str(dst), op_types_to_quantize=["Conv", "MatMul"], weight_type=QuantType.QInt8,
                         per_channel=True)
    finally:
        logging.getLogger().removeFilter(quiet)
    return Path(dst)


class _DropPreprocessAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()
