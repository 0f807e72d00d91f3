"""Shipped model configs, in NeMo's YAML layout. `load_named_config("quick")` or a file path."""

from __future__ import annotations

from pathlib import Path

from harken.core.config import ConfigError, load_config

CONFIG_DIR = Path(__file__).parent


def available() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_named_config(name_or_path: str) -> dict:
    return load_config(config_path(name_or_path))


def config_path(name_or_path: str) -> Path:
    """The file a config name stands for: a path as given, else the shipped config of that name."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    shipped = CONFIG_DIR / f"{name_or_path}.yaml"
    if not shipped.exists():
        raise ConfigError(f"{name_or_path}: no such config file, and not a shipped config ({', '.join(available())})")
    return shipped
