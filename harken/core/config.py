"""YAML configs in NeMo's layout, with `${a.b}` interpolation and dotted command-line overrides.

Configs are plain nested dicts: no OmegaConf, no structured-config magic. `${model.sample_rate}`
references are resolved against the whole document, as OmegaConf would, so NeMo's example configs
load unchanged.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    pass


_REF = re.compile(r"\$\{([^}]+)\}")


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({getattr(e, 'problem', e)})") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


class _Dumper(yaml.SafeDumper):
    """Quotes strings that YAML 1.1 readers (OmegaConf, so NeMo) would take for booleans: 'y', 'n'..."""


_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}
_Dumper.add_representer(
    str,
    lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="'" if v.lower() in _YAML11_WORDS else None),
)


def dump_config(cfg: dict) -> str:
    return yaml.dump(cfg, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def get_path(cfg: dict, dotted: str, default: Any = KeyError) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            if default is KeyError:
                raise KeyError(dotted)
            return default
    return node


def set_path(cfg: dict, dotted: str, value: Any, create: bool = True) -> None:
    parts = dotted.split(".")
    node = cfg
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list) and part.isdigit():
            node = node[int(part)]
            continue
        if part not in node or node[part] is None:
            if not create:
                raise ConfigError(f"override {dotted}: no key {'.'.join(parts[: i + 1])}")
            node[part] = {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list) and last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


def apply_overrides(cfg: dict, overrides: list[str]) -> dict:
    """`["model.optim.lr=0.001", "trainer.max_epochs=3", "~model.test_ds"]` -> new config.

    Values are parsed as YAML (`3` is an int, `[a, b]` a list, `null` None). `+key=v` adds a key
    that does not exist yet; `~key` deletes one. A plain `key=v` must name an existing key, so a
    typo fails instead of silently doing nothing.
    """
    cfg = copy.deepcopy(cfg)
    for item in overrides:
        if item.startswith("~"):
            dotted = item[1:].split("=")[0]
            parent, _, last = dotted.rpartition(".")
            node = get_path(cfg, parent, None) if parent else cfg
            if not isinstance(node, dict) or last not in node:
                raise ConfigError(f"override {item}: no key {dotted}")
            del node[last]
            continue
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        add = key.startswith("+")
        key = key.lstrip("+")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"override {item!r}: cannot parse value ({e})") from e
        if not add and get_path(cfg, key, default=_MISSING) is _MISSING:
            raise ConfigError(f"override {item}: no key {key} in the config (use +{key}=... to add it)")
        set_path(cfg, key, value)
    return cfg


_MISSING = object()


def resolve(cfg: dict) -> dict:
    """Resolve `${dotted.path}` references against the whole config (copy)."""
    root = copy.deepcopy(cfg)

    def walk(node: Any, depth: int = 0) -> Any:
        if depth > 20:
            raise ConfigError("config interpolation is nested too deeply (a reference cycle?)")
        if isinstance(node, dict):
            return {k: walk(v, depth) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, depth) for v in node]
        if isinstance(node, str) and "${" in node:
            whole = _REF.fullmatch(node.strip())
            if whole:
                return walk(_lookup(root, whole.group(1), node), depth + 1)
            return _REF.sub(lambda m: str(walk(_lookup(root, m.group(1), node), depth + 1)), node)
        return node

    return walk(root)


def _lookup(root: dict, dotted: str, where: str) -> Any:
    dotted = dotted.strip()
    try:
        return get_path(root, dotted)
    except KeyError:
        # a model section on its own (as in a .nemo) still understands `${model.x}`
        if dotted.startswith("model.") and "model" not in root:
            return _lookup(root, dotted[len("model."):], where)
        raise ConfigError(f"config reference {where!r}: no key {dotted}") from None
