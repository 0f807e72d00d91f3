"""Modules that declare the neural types of their ports.

`TypedModule` is a plain `torch.nn.Module` with two class-level dicts, `input_types` and
`output_types`. When checking is on (`harken.core.typed_module.set_type_checking(True)`, the
default in tests), a call checks each tensor argument against its port: tensors produced by another
typed module carry their type, and a mismatch raises `NeuralTypeError` naming both modules, the port
and both types. When checking is off the cost is one boolean test per call.

`connect(producer, consumer)` does the same check statically, from the declarations alone, so a model
built from a config fails at build time rather than at the first batch.
"""

from __future__ import annotations

import inspect
import os
from typing import Any, ClassVar

import torch

from harken.core.neural_types import Comparison, NeuralType

_CHECK = os.environ.get("HARKEN_TYPE_CHECK", "0") == "1"
_TYPE_ATTR = "_harken_neural_type"
_SOURCE_ATTR = "_harken_source"


def set_type_checking(enabled: bool) -> None:
    global _CHECK
    _CHECK = enabled


def type_checking_enabled() -> bool:
    return _CHECK


class NeuralTypeError(TypeError):
    pass


def type_of(t: torch.Tensor) -> NeuralType | None:
    """The neural type a typed module attached to `t`, if any."""
    return getattr(t, _TYPE_ATTR, None)


class TypedModule(torch.nn.Module):
    input_types: ClassVar[dict[str, NeuralType]] = {}
    output_types: ClassVar[dict[str, NeuralType]] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not _CHECK:
            return super().__call__(*args, **kwargs)
        self._check_inputs(args, kwargs)
        out = super().__call__(*args, **kwargs)
        self._tag_outputs(out)
        return out

    def _port_name(self) -> str:
        return type(self).__name__

    def _check_inputs(self, args: tuple, kwargs: dict) -> None:
        names = [p for p in inspect.signature(self.forward).parameters]
        bound = dict(zip(names, args))
        bound.update(kwargs)
        for port, value in bound.items():
            expected = self.input_types.get(port)
            if expected is None or not isinstance(value, torch.Tensor):
                continue
            if expected.ndim is not None and value.dim() != expected.ndim:
                raise NeuralTypeError(
                    f"{self._port_name()}.{port}: expected {expected} ({expected.ndim}-D), "
                    f"got a {value.dim()}-D tensor of shape {tuple(value.shape)}"
                    + _from(value)
                )
            actual = type_of(value)
            if actual is None:
                continue
            result = actual.compare(expected)
            if not result.compatible:
                raise NeuralTypeError(
                    f"{self._port_name()}.{port}: expected {expected}, got {actual}{_from(value)} "
                    f"({result.name})"
                )

    def _tag_outputs(self, out: Any) -> None:
        ports = list(self.output_types.items())
        values = out if isinstance(out, tuple) else (out,)
        if len(values) != len(ports):
            if ports:
                raise NeuralTypeError(
                    f"{self._port_name()} returned {len(values)} outputs but declares {len(ports)} "
                    f"({', '.join(n for n, _ in ports)}): {Comparison.CONTAINER_SIZE_MISMATCH.name}"
                )
            return
        for (name, ntype), value in zip(ports, values):
            if isinstance(value, torch.Tensor):
                setattr(value, _TYPE_ATTR, ntype)
                setattr(value, _SOURCE_ATTR, f"{self._port_name()}.{name}")


def _from(value: torch.Tensor) -> str:
    src = getattr(value, _SOURCE_ATTR, None)
    return f" from {src}" if src else ""


def connect(producer: TypedModule, consumer: TypedModule, mapping: dict[str, str] | None = None) -> None:
    """Check statically that `producer`'s outputs fit `consumer`'s inputs.

    `mapping` maps output port -> input port; by default ports are paired in declaration order.
    """
    outs, ins = producer.output_types, consumer.input_types
    pairs = mapping.items() if mapping else zip(outs, ins)
    for out_port, in_port in pairs:
        offered, wanted = outs[out_port], ins[in_port]
        result = offered.compare(wanted)
        if not result.compatible:
            raise NeuralTypeError(
                f"cannot connect {type(producer).__name__}.{out_port} -> {type(consumer).__name__}.{in_port}: "
                f"{type(consumer).__name__} expects {wanted}, {type(producer).__name__} gives {offered} "
                f"({result.name})"
            )
