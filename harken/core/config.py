"""YAML configs in NeMo's layout, with `${a.b}` interpolation and dotted command-line overrides.

Configs are plain nested dicts: no OmegaConf, no structured-config magic. `${model.sample_rate}`
references are resolved against the whole document, as OmegaConf would, so NeMo's example configs
load unchanged.

A config is input like any other: files over HARKEN_MAX_CONFIG_BYTES, text that is not UTF-8, nesting
too deep to read, and YAML aliases or `${...}` references that expand to more than HARKEN_MAX_CONFIG_VALUES
values (an "alias bomb") are refused with the file (and line) instead of eating memory.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from harken.core.limits import limit, over, regular_file


class ConfigError(ValueError):
    pass


_REF = re.compile(r"\$\{([^}]+)\}")
# `1e-3` is a number to OmegaConf (so to NeMo's configs) but a string to YAML 1.1 readers, which want a dot
_EXP_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+")


class _Loader(yaml.SafeLoader):
    """Safe YAML, reading `1e-3` as the number NeMo's configs mean by it."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _EXP_FLOAT, list("-+0123456789"))


def yaml_value(text: str):
    """A YAML document (or command-line value) parsed the way configs are."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        size = regular_file(path, "config file").stat().st_size
        if size > limit("config_bytes"):
            raise ConfigError(str(over("config_bytes", f"{path}: size", size)))
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(str(e) if str(path) in str(e) else f"{path}: {e}") from None
    data = parse_yaml(raw, str(path))
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def parse_yaml(raw: bytes | str, where: str):
    """YAML text -> Python values, bounded: size, UTF-8, nesting and expanded size, each error naming `where`."""
    if len(raw) > limit("config_bytes"):
        raise ConfigError(str(over("config_bytes", f"{where}: size", len(raw))))
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[:e.start].count(b"\n") + 1
            raise ConfigError(f"{where}:{line}: not UTF-8 text (byte {raw[e.start]:#04x}); save it as UTF-8") from None
    try:
        data = yaml_value(raw)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}{line}: invalid YAML ({getattr(e, 'problem', e)})") from e
    except RecursionError:
        raise ConfigError(f"{where}: YAML nested too deeply to read") from None
    count_values(data, where)
    return data


def count_values(data: Any, where: str) -> int:
    """How many values `data` holds when every alias is expanded; over HARKEN_MAX_CONFIG_VALUES is an error
    (stops counting there, so a billion-laughs document costs no more than the limit)."""
    most, seen, stack = limit("config_values"), 0, [data]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > most:
            raise ConfigError(str(over("config_values", f"{where}: values once YAML aliases are expanded", seen)))
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and len(node) > limit("config_bytes"):
            raise ConfigError(str(over("config_bytes", f"{where}: a string of", len(node))))
    return seen


class _Dumper(yaml.SafeDumper):
    """Quotes strings that YAML 1.1 readers (OmegaConf, so NeMo) would take for booleans: 'y', 'n'..."""


_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}
_Dumper.add_representer(
    str,
    lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="'" if v.lower() in _YAML11_WORDS
                                    or _EXP_FLOAT.fullmatch(v) else None),
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
            value = yaml_value(raw) if raw != "" else ""
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
    budget = [limit("config_values")]  # values made; references that multiply stop here

    def walk(node: Any, depth: int = 0) -> Any:
        if depth > 20:
            raise ConfigError("config interpolation is nested too deeply (a reference cycle?)")
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(str(over("config_values", "config: values once `${...}` references are resolved",
                                       limit("config_values") + 1)))
        if isinstance(node, dict):
            return {k: walk(v, depth) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, depth) for v in node]
        if isinstance(node, str) and "${" in node:
            whole = _REF.fullmatch(node.strip())
            if whole:
                return walk(_lookup(root, whole.group(1), node), depth + 1)
            text = _REF.sub(lambda m: str(walk(_lookup(root, m.group(1), node), depth + 1)), node)
            if len(text) > limit("config_bytes"):
                raise ConfigError(str(over("config_bytes", f"config reference {node[:80]!r}: resolves to a string of",
                                           len(text))))
            return text
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


def key_line(path: str | Path, dotted: str) -> int | None:
    """The line of key `dotted` in a YAML file (of its deepest part the file has), for messages; None when
    the file does not have its first part or cannot be read. Composes nodes only: aliases are not expanded."""
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None
    line = None
    for part in dotted.split("."):
        if isinstance(node, yaml.MappingNode):
            hit = next((kv for kv in node.value if isinstance(kv[0], yaml.ScalarNode) and kv[0].value == part), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line


class ConfigOrigin:
    """Where the value at a key of a config came from, for messages: `FILE:LINE`, the command-line override
    that set it (or one of its parents), or both when overrides changed keys below it."""

    def __init__(self, path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()):
        self.path, self.overrides = (Path(path) if path else None), tuple(overrides)

    def __call__(self, dotted: str) -> str:
        keys = [(item, item.split("=", 1)[0].lstrip("+~")) for item in self.overrides]
        for item, key in reversed(keys):
            if dotted == key or dotted.startswith(key + "."):
                return f"command line ({item})"
        below = [item for item, key in keys if key.startswith(dotted + ".")]
        if self.path is None:
            found = "config"
        else:
            line = key_line(self.path, dotted)
            found = f"{self.path}:{line}" if line else str(self.path)
        return f"{found} and command line ({' '.join(below)})" if below else found
