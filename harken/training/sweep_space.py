"""The search space file of `harken sweep`: dotted config keys with distributions, the metric and its goal.

    model.optim.lr: {type: loguniform, low: 1e-4, high: 1e-2}
    model.optim.weight_decay: {type: uniform, low: 0.0, high: 0.01}        # optional step:
    model.train_ds.batch_size: {type: int, low: 4, high: 16, step: 4}      # optional log: true
    model.optim.name: {type: categorical, choices: [adamw, novograd]}
    model.encoder.activation: [relu, silu]                                 # a plain list: categorical
    metric: val_wer          # any validation metric the run logs (val_wer, val_cer, val_loss)
    goal: minimize           # or maximize
    method: tpe              # optional default for --method: random, grid, tpe
    pruner: {type: median, n_startup_trials: 5, n_warmup_steps: 0}   # or `none`; median is the default

Every mistake is reported with the file and the key, before any trial runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harken.core.config import ConfigError, dump_config, load_config

METHODS = ("random", "grid", "tpe")
RESERVED = {"metric", "goal", "method", "pruner"}
TYPES = ("loguniform", "uniform", "int", "categorical")
_FIELDS = {"loguniform": {"low", "high"}, "uniform": {"low", "high", "step"}, "int": {"low", "high", "step", "log"},
           "categorical": {"choices"}}


class SweepError(ConfigError):
    pass


@dataclass(frozen=True)
class Param:
    """One swept config key: an Optuna distribution named by the key (`model.optim.lr`)."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple | None = None

    def suggest(self, trial: Any) -> Any:
        if self.type == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.type == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.type == "loguniform")

    def grid_values(self) -> list:
        if self.type == "categorical":
            return list(self.choices)
        if self.type == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        raise SweepError(f"{self.key}: grid search needs discrete values, and {self.type} is continuous; "
                         f"give it as {{type: categorical, choices: [...]}}")


@dataclass(frozen=True)
class SweepSpec:
    params: tuple[Param, ...]
    metric: str = "val_wer"
    goal: str = "minimize"
    method: str | None = None
    pruner: dict | None = None  # None: no pruning

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {p.key: p.suggest(trial) for p in self.params}

    def grid(self) -> dict[str, list]:
        return {p.key: p.grid_values() for p in self.params}

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid().values())

    def identity(self) -> dict:
        """What must not change when a sweep resumes (the method and the trial count may), as stored JSON."""
        return json.loads(json.dumps({"params": [asdict(p) for p in self.params], "metric": self.metric,
                                      "goal": self.goal}))


def load_spec(path: str | Path) -> SweepSpec:
    data = load_config(path)  # file-not-found and YAML errors carry the file and line
    try:
        return parse_spec(data)
    except SweepError as e:
        raise SweepError(f"{path}: {e}") from None


def parse_spec(data: dict) -> SweepSpec:
    params = tuple(_param(key, value) for key, value in data.items() if key not in RESERVED)
    if not params:
        raise SweepError("no parameters to sweep (give dotted config keys, e.g. model.optim.lr: {type: ...})")
    metric = data.get("metric", "val_wer")
    goal = data.get("goal", "minimize")
    method = data.get("method")
    if not isinstance(metric, str) or not metric:
        raise SweepError(f"metric: expected a metric name such as val_wer, got {metric!r}")
    if goal not in ("minimize", "maximize"):
        raise SweepError(f"goal: expected minimize or maximize, got {goal!r}")
    if method is not None and method not in METHODS:
        raise SweepError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    return SweepSpec(params, metric, goal, method, _pruner(data.get("pruner", "median")))


def dump_spec(spec: SweepSpec) -> str:
    """The space as YAML, in the form `load_spec` reads (written into the sweep folder)."""
    data: dict[str, Any] = {}
    for p in spec.params:
        if p.type == "categorical":
            data[p.key] = {"type": p.type, "choices": list(p.choices)}
        else:
            data[p.key] = {k: v for k, v in {"type": p.type, "low": p.low, "high": p.high, "step": p.step,
                                             "log": p.log or None}.items() if v is not None}
    data.update(metric=spec.metric, goal=spec.goal, pruner=spec.pruner or "none")
    if spec.method:
        data["method"] = spec.method
    return dump_config(data)


def _param(key: Any, value: Any) -> Param:
    if not isinstance(key, str) or not key or " " in key:
        raise SweepError(f"{key!r}: expected a dotted config key such as model.optim.lr")
    if isinstance(value, list):
        value = {"type": "categorical", "choices": value}
    if not isinstance(value, dict):
        raise SweepError(f"{key}: expected a distribution such as {{type: loguniform, low: 1e-4, high: 1e-2}} "
                         f"or a list of choices, got {value!r}")
    kind = value.get("type")
    if kind not in TYPES:
        raise SweepError(f"{key}: type must be one of {', '.join(TYPES)}, got {kind!r}")
    extra = set(value) - _FIELDS[kind] - {"type"}
    if extra:
        raise SweepError(f"{key}: {kind} takes {', '.join(sorted(_FIELDS[kind]))}, not {', '.join(sorted(extra))}")
    if kind == "categorical":
        return Param(key, kind, choices=_choices(key, value.get("choices")))
    low, high, step = (_number(key, value, name) for name in ("low", "high", "step"))
    if low is None or high is None:
        raise SweepError(f"{key}: {kind} needs low and high")
    if low >= high:
        raise SweepError(f"{key}: low ({low}) must be below high ({high})")
    log = kind == "loguniform" or bool(value.get("log", False))
    if log and low <= 0:
        raise SweepError(f"{key}: a log scale needs low > 0, got {low}")
    if step is not None and (step <= 0 or log):
        raise SweepError(f"{key}: step must be positive and cannot go with a log scale")
    if kind == "int" and any(v is not None and v != int(v) for v in (low, high, step)):
        raise SweepError(f"{key}: int needs whole numbers for low, high and step")
    return Param(key, kind, low, high, step, log if kind == "int" else False)


def _number(key: str, value: dict, name: str) -> float | None:
    number = value.get(name)
    if number is None:
        return None
    if isinstance(number, str):  # YAML 1.1 reads `1e-4` (no dot) as a string
        try:
            return float(number)
        except ValueError:
            pass
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise SweepError(f"{key}: {name} must be a number, got {number!r}")
    return number


def _choices(key: str, choices: Any) -> tuple:
    if not isinstance(choices, list) or not choices:
        raise SweepError(f"{key}: categorical needs a non-empty list of choices")
    if any(c is not None and not isinstance(c, (bool, int, float, str)) for c in choices):
        raise SweepError(f"{key}: choices must be numbers, strings, booleans or null, got {choices!r}")
    if len(set(map(repr, choices))) != len(choices):
        raise SweepError(f"{key}: choices repeat a value: {choices!r}")
    return tuple(choices)


def _pruner(value: Any) -> dict | None:
    if value in (None, "none", False):
        return None
    if value == "median":
        return {"type": "median"}
    if not isinstance(value, dict) or value.get("type") != "median":
        raise SweepError(f"pruner: expected median, none or {{type: median, n_startup_trials: ...}}, got {value!r}")
    allowed = {"type", "n_startup_trials", "n_warmup_steps", "interval_steps", "n_min_trials"}
    if set(value) - allowed:
        raise SweepError(f"pruner: unknown keys {', '.join(sorted(set(value) - allowed))} "
                         f"(median takes {', '.join(sorted(allowed - {'type'}))})")
    return dict(value)
