"""Optional packages (W&B, MLflow, Optuna, TensorBoard): a missing one is a one-line message that names the
install extra, not an ImportError traceback from deep inside Lightning."""

from __future__ import annotations

import importlib.util


class MissingExtra(ImportError, ValueError):
    """An optional package is not installed. A ValueError too, so the CLI prints it as a user error."""


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def require(module: str, extra: str, feature: str) -> None:
    """Fail with `feature needs the X package: pip install 'harken[extra]'` unless `module` imports."""
    if not available(module):
        raise MissingExtra(f"{feature} needs the {module} package: pip install 'harken[{extra}]'")
