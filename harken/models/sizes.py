"""Refuse a model config that asks for absurd sizes before a single tensor exists: `filters: 10000000` in a
downloaded `.nemo` would otherwise allocate terabytes, and `repeat: 10000000` spin for hours.

The check is an estimate of the elements the model's tensors will hold (parameters and buffers), within a
small factor, against HARKEN_MAX_PARAMS (2e9: NeMo's largest CTC/transducer models have 1.1e9), plus a bound
on every count of layers, blocks, repeats and masks (HARKEN_MAX_LAYERS).
"""

from __future__ import annotations

import math
from typing import Any

from harken.core.limits import limit, over

SECTIONS = ("preprocessor", "spec_augment", "encoder", "decoder", "joint", "aux_ctc")
# widths, vocabularies, kernels and windows: their products make tensors
DIMENSIONS = {"filters", "d_model", "feat_in", "feat_out", "features", "nfilt", "n_mels", "n_mfcc", "n_fft",
              "num_classes", "vocab_size", "pred_hidden", "joint_hidden", "encoder_hidden", "hidden_size",
              "subsampling_conv_channels", "n_window_size", "n_window_stride", "kernel", "conv_kernel_size",
              "pos_emb_max_len", "num_extra_outputs"}
# how many times something is made or done: each must stay small
COUNTS = {"repeat", "n_layers", "num_layers", "pred_rnn_layers", "n_heads", "ff_expansion_factor", "stride",
          "dilation", "subsampling_factor", "frame_splicing", "freq_masks", "time_masks", "rect_masks",
          "kernel_size_factor", "se_reduction_ratio", "groups", "reduction_factor"}


def check_config_sizes(cfg: dict, where: str = "model config") -> None:
    """Raise a ValueError naming the key if `cfg` (a resolved model section) asks for too much, or gives a
    size that is not a number."""
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(cfg).__name__}")
    for section in SECTIONS:
        if cfg.get(section) is not None and not isinstance(cfg[section], dict):
            raise ValueError(f"{where}: {section}: expected a mapping, got {type(cfg[section]).__name__}")
        _check_values(cfg.get(section), f"{where}: {section}")
    total = _preprocessor(cfg.get("preprocessor") or {}) + _encoder(cfg.get("encoder") or {})
    total += sum(_generic(cfg.get(s)) for s in SECTIONS if s not in ("preprocessor", "encoder", "spec_augment"))
    if total > limit("model_params"):
        raise over("model_params", f"{where}: estimated elements of its tensors", total)


def _check_values(node: Any, where: str) -> None:
    stack = [(node, where)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in COUNTS or key in DIMENSIONS:
                    _check_number(value, f"{path}.{key}")
                if key in COUNTS and _number(value) > limit("model_repeats"):
                    raise over("model_repeats", f"{path}.{key}", _number(value))
                stack.append((value, f"{path}.{key}"))
        elif isinstance(node, list):  # lists of layers count; a vocabulary (strings) is data, not layers
            if len(node) > limit("model_repeats") and not all(isinstance(v, str) for v in node):
                raise over("model_repeats", f"{path}: list length", len(node))
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))


def _check_number(value: Any, where: str) -> None:
    """A size is a number, a list of numbers (per-layer kernels, strides) or null (the default)."""
    items = value if isinstance(value, list) else [value]
    if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in items):
        raise ValueError(f"{where}: expected a number (or a list of numbers), got {value!r:.80}")


def _number(value: Any) -> float:
    """The largest number in a value (lists count by their largest element); 0 for anything else."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else math.inf
    if isinstance(value, list):
        return max((_number(v) for v in value), default=0)
    return 0


def _dim(node: dict, key: str, default: float = 0) -> float:
    return max(_number(node.get(key, default)), 0)


def _preprocessor(p: dict) -> float:
    rate = _dim(p, "sample_rate", 16000)
    window = _dim(p, "n_window_size") or _dim(p, "window_size", 0.02) * rate
    n_fft = _dim(p, "n_fft") or window
    mels = max(_dim(p, "features"), _dim(p, "nfilt"), _dim(p, "n_mels"), _dim(p, "n_mfcc"))
    return mels * (n_fft / 2 + 1) + n_fft + window


def _encoder(e: dict) -> float:
    blocks = e.get("jasper")
    if isinstance(blocks, list):
        channels, total = _dim(e, "feat_in") or 64, 0.0
        for block in blocks:
            if isinstance(block, dict):
                filters, repeat = _dim(block, "filters"), max(_dim(block, "repeat", 1), 1)
                kernel = _dim(block, "kernel", 1) * max(_dim(block, "kernel_size_factor", 1), 1)
                if block.get("separable"):
                    total += (channels * kernel + channels * filters) + (repeat - 1) * (filters * kernel + filters**2)
                else:
                    total += channels * filters * kernel + (repeat - 1) * filters**2 * kernel
                total += channels * filters  # the residual's 1x1 convolution
                channels = filters or channels
        return total
    if "d_model" in e:
        d, layers, ff = _dim(e, "d_model"), max(_dim(e, "n_layers", 1), 1), max(_dim(e, "ff_expansion_factor", 4), 1)
        conv = _dim(e, "subsampling_conv_channels") or d
        per_layer = 5 * d * d + 4 * ff * d * d + 3 * d * d + _dim(e, "conv_kernel_size", 31) * d
        embedding = _dim(e, "pos_emb_max_len", 5000) * d + 18 * conv * conv + _dim(e, "feat_in") * conv * d
        return layers * per_layer + embedding
    return _generic(e)


def _generic(node: Any) -> float:
    """Any other section: each mapping's two largest sizes multiplied (a weight matrix), times its layers."""
    total, stack = 0.0, [node]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            dims = sorted((_dim(node, k) for k in node if k in DIMENSIONS), reverse=True) + [1, 1]
            layers = max(_dim(node, "num_layers"), _dim(node, "pred_rnn_layers"), _dim(node, "n_layers"), 1)
            total += dims[0] * dims[1] * 4 * layers
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return total
