"""`_target_` resolution through an allow-list: the mechanism (the lists live beside what they list,
e.g. `harken/models/targets.py`).

A config's `_target_` names a class. NeMo configs name NeMo classes; harken's name harken classes.
Nothing is ever imported by a name read from a file unless a table lists it, so a checkpoint cannot
make harken run code it did not ship.
"""

from __future__ import annotations

import importlib
from typing import Any


class UnknownTargetError(ValueError):
    pass


class TargetTable:
    """harken class paths, each with the NeMo class paths that mean the same thing."""

    def __init__(self, families: dict[str, tuple[str, ...]]):
        self.families = families
        self._aliases = {alias: canonical for canonical, aliases in families.items() for alias in (canonical, *aliases)}

    def canonical(self, name: str) -> str:
        try:
            return self._aliases[name]
        except KeyError:
            supported = "\n  ".join(sorted(self.families))
            raise UnknownTargetError(f"_target_ {name!r} is not a supported module. harken resolves only these "
                                     f"(or their NeMo names):\n  {supported}") from None

    def nemo_name(self, name: str) -> str:
        """The NeMo class path for a harken (or NeMo) target, used when writing archives."""
        return self.families[self.canonical(name)][0]

    def resolve_class(self, name: str) -> type:
        module, _, cls = self.canonical(name).rpartition(".")
        return getattr(importlib.import_module(module), cls)

    def instantiate(self, cfg: dict, **extra: Any) -> Any:
        """Build the object a config section describes (`_target_` plus keyword arguments)."""
        if not isinstance(cfg, dict) or "_target_" not in cfg:
            keys = sorted(cfg) if isinstance(cfg, dict) else type(cfg).__name__
            raise UnknownTargetError(f"config section has no _target_: keys are {keys}")
        kwargs = {k: v for k, v in cfg.items() if k != "_target_"}
        kwargs.update(extra)
        return self.resolve_class(cfg["_target_"])(**kwargs)
