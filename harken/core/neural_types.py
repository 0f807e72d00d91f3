"""Neural types: what a tensor *means*, not just its shape.

A `NeuralType` is a tuple of axes (batch, time, dimension...) plus an element type (AudioSignal,
MelSpectrogram, LogProbs...). Modules declare the types of their ports; `NeuralType.compare` says
how two types relate, with the same categories NeMo uses, so a mismatch can be explained precisely.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class AxisKind(Enum):
    Batch = "B"
    Time = "T"
    Dimension = "D"
    Channel = "C"
    Width = "W"
    Height = "H"
    Any = "ANY"

    @classmethod
    def from_str(cls, label: str) -> AxisKind:
        aliases = {"B": cls.Batch, "T": cls.Time, "D": cls.Dimension, "C": cls.Channel,
                   "W": cls.Width, "H": cls.Height, "ANY": cls.Any}
        try:
            return aliases[label.upper()]
        except KeyError:
            raise ValueError(f"unknown axis kind {label!r}; use one of {sorted(aliases)}") from None


@dataclass(frozen=True)
class AxisType:
    kind: AxisKind
    size: int | None = None
    is_list: bool = False

    def __str__(self) -> str:
        s = self.kind.value if self.size is None else f"{self.kind.value}:{self.size}"
        return f"[{s}]" if self.is_list else s


class Comparison(Enum):
    """How type A relates to type B (NeMo's NeuralTypeComparisonResult, same names)."""

    SAME = 0
    LESS = 1  # A is a more specific kind of B: fine to pass A where B is expected
    GREATER = 2  # A is more general than B
    DIM_INCOMPATIBLE = 3  # same element type and axis kinds, different fixed sizes
    TRANSPOSE_SAME = 4  # same axes in a different order
    CONTAINER_SIZE_MISMATCH = 5
    INCOMPATIBLE = 6
    SAME_TYPE_INCOMPATIBLE_PARAMS = 7  # e.g. AudioSignal(16000) vs AudioSignal(8000)

    @property
    def compatible(self) -> bool:
        return self in (Comparison.SAME, Comparison.LESS)


# ---------------------------------------------------------------- element types
class ElementType:
    """Base of all element kinds. Subclassing expresses 'is a kind of'."""

    def params(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{type(self).__name__}({p})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.params() == other.params()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((type(self), tuple(self.params().items())))

    def compare(self, other: ElementType) -> Comparison:
        a, b = type(self), type(other)
        if a is not b:
            if issubclass(a, b):
                return Comparison.LESS
            if issubclass(b, a):
                return Comparison.GREATER
            return Comparison.INCOMPATIBLE
        mine, theirs = self.params(), other.params()
        if mine.keys() != theirs.keys():
            return Comparison.SAME_TYPE_INCOMPATIBLE_PARAMS
        for key, value in mine.items():  # None means "any value"
            if value is not None and theirs[key] is not None and value != theirs[key]:
                return Comparison.SAME_TYPE_INCOMPATIBLE_PARAMS
        return Comparison.SAME


class VoidType(ElementType):
    """Matches anything."""

    def compare(self, other: ElementType) -> Comparison:
        return Comparison.SAME


class ChannelType(ElementType):
    pass


class AudioSignal(ElementType):
    def __init__(self, freq: int | None = None):
        self.freq = freq

    def params(self) -> dict[str, Any]:
        return {"freq": self.freq}


class SpectrogramType(ChannelType):
    pass


class MelSpectrogramType(SpectrogramType):
    pass


class MFCCSpectrogramType(SpectrogramType):
    pass


class EncodedRepresentation(ChannelType):
    pass


class AcousticEncodedRepresentation(EncodedRepresentation):
    pass


class LogitsType(ElementType):
    pass


class LogprobsType(ElementType):
    pass


class ProbsType(ElementType):
    pass


class LabelsType(ElementType):
    pass


class PredictionsType(LabelsType):
    pass


class LengthsType(ElementType):
    pass


class LossType(ElementType):
    pass


# ---------------------------------------------------------------- neural type
class NeuralType:
    """Axes + element type. `NeuralType(("B", "D", "T"), MelSpectrogramType())`."""

    def __init__(self, axes: tuple | None = None, elements: ElementType | None = None, optional: bool = False):
        self.axes: tuple[AxisType, ...] | None = None if axes is None else tuple(_axis(a) for a in axes)
        self.elements = elements if elements is not None else VoidType()
        self.optional = optional

    def __repr__(self) -> str:
        axes = "any axes" if self.axes is None else "(" + ", ".join(map(str, self.axes)) + ")"
        return f"{axes} of {self.elements!r}"

    @property
    def ndim(self) -> int | None:
        return None if self.axes is None else len(self.axes)

    def compare(self, other: NeuralType) -> Comparison:
        """How `self` (what a port offers) relates to `other` (what is expected)."""
        if isinstance(self.elements, VoidType) and self.axes is None:
            return Comparison.SAME
        if self.axes is None or other.axes is None:
            if self.axes is None and other.axes is None:
                return self.elements.compare(other.elements)
            return Comparison.INCOMPATIBLE
        axes = _compare_axes(self.axes, other.axes)
        elements = self.elements.compare(other.elements)
        if axes == "same":
            return elements
        if elements is not Comparison.SAME:
            return Comparison.INCOMPATIBLE
        if axes == "transposed":
            return Comparison.TRANSPOSE_SAME
        if axes == "sizes":
            return Comparison.DIM_INCOMPATIBLE
        return Comparison.INCOMPATIBLE


def _axis(a: AxisType | str | AxisKind) -> AxisType:
    if isinstance(a, AxisType):
        return a
    if isinstance(a, AxisKind):
        return AxisType(a)
    return AxisType(AxisKind.from_str(a))


def _compare_axes(a: tuple[AxisType, ...], b: tuple[AxisType, ...]) -> str:
    if len(a) != len(b):
        return "different"
    same = all(
        x.kind is AxisKind.Any
        or (x.kind == y.kind and x.is_list == y.is_list and (x.size is None or x.size == y.size))
        for x, y in zip(a, b)
    )
    if same:
        return "same"
    kinds_a = {x.kind: x.size for x in a}
    kinds_b = {y.kind: y.size for y in b}
    if kinds_a.keys() != kinds_b.keys():
        return "different"
    return "transposed" if kinds_a == kinds_b else "sizes"
