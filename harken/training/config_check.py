"""A training config checked before anything is built, so a wrong type or value is one line naming its key and
where it was set (`FILE:LINE` or the command-line override) instead of a traceback from Lightning or torch.

Keys harken does not read in the sections whose keys it knows (the top level, `trainer`, `model.optim.sched`,
the datasets) are warnings, with the close match when there is one. Not errors: NeMo's configs carry keys for
features harken lacks (`is_tarred`, `trim_silence`, ...) and load unchanged, which refusing them would break;
a typo is still named. Unknown optimizer options are errors (the optimizer would fail on them).
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from harken.core.config import ConfigError

log = logging.getLogger("harken.train")
Where = Callable[[str], str]  # dotted key -> where it was set
Check = Callable[[Any], "str | None"]  # a value -> what is wrong with it, or None


def _problem(ok: bool, wanted: str, value: Any) -> str | None:
    return None if ok else f"expected {wanted}, got {value!r:.80}"


def whole(lo: int | None = None, null: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if v is None and null:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            return _problem(False, "a whole number", v)
        return None if lo is None or v >= lo else f"must be at least {lo}, got {v}"
    return check


def number(lo: float | None = None, hi: float | None = None, above: bool = False, null: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if v is None and null:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return _problem(False, "a number", v)
        if lo is not None and (v <= lo if above else v < lo):
            return f"must be {'above' if above else 'at least'} {lo:g}, got {v}"
        return None if hi is None or v <= hi else f"must be at most {hi:g}, got {v}"
    return check


def flag(null: bool = False) -> Check:
    return lambda v: None if v is None and null else _problem(isinstance(v, bool), "true or false", v)


def text(null: bool = False) -> Check:
    return lambda v: None if v is None and null else _problem(isinstance(v, str), "a string", v)


def mapping(null: bool = False) -> Check:
    return lambda v: None if v is None and null else _problem(isinstance(v, dict), "a mapping (key: value lines)", v)


def one_of(*choices: Any) -> Check:
    shown = ", ".join(repr(c) for c in choices)
    return lambda v: None if any(v == c and type(v) is type(c) for c in choices) else \
        f"expected one of {shown}, got {v!r:.80}"


def paths(v: Any) -> str | None:
    ok = v is None or isinstance(v, str) or isinstance(v, list) and all(isinstance(p, str) for p in v)
    return _problem(ok, "a path, comma-separated paths or a list of paths", v)


def anything(v: Any) -> None:
    return None


PRECISIONS = ("32-true", "16-mixed", "bf16-mixed", "64-true", "transformer-engine", "transformer-engine-float16",
              16, 32, 64, "16", "32", "64", "bf16")  # not 16-true or bf16-true: the front end computes in float32
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


def accelerator(v: Any) -> str | None:
    if v not in ACCELERATORS or not isinstance(v, str):
        return f"harken trains on {', '.join(ACCELERATORS)}; got {v!r:.80}"
    if v in ("gpu", "cuda") and not torch.cuda.is_available():
        return f"{v}: this machine has no CUDA GPU torch can use (use trainer.accelerator=cpu)"
    if v == "mps" and not torch.backends.mps.is_available():
        return "mps: not available on this machine (use trainer.accelerator=cpu)"
    return None


def devices(v: Any) -> str | None:
    if v == "auto" or isinstance(v, str) and re.fullmatch(r"\s*-?\d+\s*(,\s*\d+\s*)*,?\s*", v):
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        return None if v >= 1 or v == -1 else f"must be at least 1 (or -1 or 'auto' for all), got {v}"
    if isinstance(v, list) and v and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in v):
        return None
    return f"expected a number of devices (1, 2, ...), -1 or 'auto' for all, or a list of device indices; got {v!r:.80}"


def strategy(v: Any) -> str | None:
    from lightning.pytorch.strategies import StrategyRegistry

    if v == "auto" or isinstance(v, str) and v in StrategyRegistry:
        return None
    return f"expected auto or a Lightning strategy (ddp, ddp_spawn, fsdp, deepspeed, ...), got {v!r:.80}"


def cpu_bound(kind: str) -> Check:
    """At most max(8, CPU cores) processes (`kind`): a typo such as 80000 must not fork that many."""
    most = max(8, os.cpu_count() or 1)
    return lambda v: None if not isinstance(v, int) or v <= most else \
        f"{v} {kind} is more than this machine can run (at most {most}: max(8, its CPU cores))"


def fast_dev_run(v: Any) -> str | None:
    return None if isinstance(v, bool) else whole(0)(v)


TRAINER: dict[str, Check] = {
    "devices": devices, "accelerator": accelerator, "num_nodes": whole(1), "strategy": strategy,
    "precision": one_of(*PRECISIONS), "max_epochs": whole(-1, null=True), "max_steps": whole(-1, null=True),
    "min_epochs": whole(0, null=True), "min_steps": whole(0, null=True),
    "val_check_interval": number(0, above=True, null=True), "check_val_every_n_epoch": whole(1, null=True),
    "log_every_n_steps": whole(1), "gradient_clip_val": number(0, null=True),
    "gradient_clip_algorithm": one_of("norm", "value", None), "accumulate_grad_batches": whole(1),
    "num_sanity_val_steps": whole(-1), "limit_train_batches": number(0, null=True),
    "limit_val_batches": number(0, null=True), "deterministic": one_of(True, False, "warn", None),
    "benchmark": flag(null=True), "enable_progress_bar": flag(), "enable_model_summary": flag(),
    "sync_batchnorm": flag(), "fast_dev_run": fast_dev_run,
    # harken's own, or read by harken
    "logger": anything, "enable_checkpointing": anything, "checkpoint_every_n_steps": whole(0, null=True),
    "keep_checkpoint_every_n_steps": whole(0, null=True), "seed": whole(null=True),
}
OPTIM: dict[str, Check] = {
    "name": text(), "lr": number(0, above=True), "weight_decay": number(0), "eps": number(0, above=True),
    "momentum": number(0), "betas": lambda v: _problem(
        isinstance(v, (list, tuple)) and len(v) == 2 and all(number(0, 1)(b) is None and b < 1 for b in v),
        "two numbers in [0, 1), e.g. [0.9, 0.98]", v),
    "sched": mapping(null=True),
}
SCHED: dict[str, Check] = {
    "name": text(), "warmup_steps": whole(0, null=True), "warmup_ratio": number(0, 1, null=True),
    "min_lr": number(0, null=True),
}
DATASET: dict[str, Check] = {
    "manifest_filepath": paths, "shards": paths, "batch_size": whole(1, null=True),
    "max_batch_duration": number(0, above=True, null=True), "shuffle": flag(null=True),
    "min_duration": number(0, null=True), "max_duration": number(0, above=True, null=True),
    "max_oov_fraction": number(0, 1), "num_buckets": whole(1), "seed": whole(), "drop_last": flag(null=True),
    "num_workers": lambda v: whole(0)(v) or cpu_bound("dataloader workers")(v),
    "pin_memory": flag(null=True), "shuffle_buffer": whole(0), "sample_rate": whole(1, null=True),
    "labels": anything, "augmentor": mapping(null=True),
}
CLUSTER_VARIABLES = ("MASTER_ADDR", "SLURM_JOB_ID", "TORCHELASTIC_RUN_ID", "LSB_JOBID")
TOP = ("name", "model", "trainer", "exp_manager", "seed", "hydra", "init_from", "init_from_nemo_model",
       "init_from_pretrained_model")


def check_training_config(cfg: dict, where: Where = lambda key: "config") -> None:
    """Raise ConfigError at the first wrong value (`WHERE: KEY: what is wrong`); warn about ignored keys."""
    _section(cfg, "", {**dict.fromkeys(TOP, anything), "seed": whole(null=True)}, where)
    for name, want in (("model", mapping()), ("trainer", mapping(null=True)), ("exp_manager", mapping(null=True))):
        _value(cfg.get(name), name, want, where)
    model = cfg["model"]
    _value(model.get("sample_rate"), "model.sample_rate", whole(1, null=True), where)
    _front_end(model, where)
    _section(cfg.get("trainer") or {}, "trainer", TRAINER, where)
    _devices_fit(cfg.get("trainer") or {}, where)
    train_ds = model.get("train_ds")
    _value(train_ds, "model.train_ds", mapping(), where)
    if not (train_ds.get("manifest_filepath") or train_ds.get("shards")):
        key = "model.train_ds.manifest_filepath"
        raise ConfigError(f"{where(key)}: {key}: the training manifest is required (give {key}=PATH)")
    for name in ("train_ds", "validation_ds", "test_ds"):
        ds = model.get(name)
        _value(ds, f"model.{name}", mapping(null=True), where)
        if ds:
            _section(ds, f"model.{name}", DATASET, where)
            if ds.get("augmentor"):
                _augmentor(ds["augmentor"], f"model.{name}.augmentor", where)
            if ds.get("batch_size") is None and ds.get("max_batch_duration") is None:
                key = f"model.{name}.batch_size"
                raise ConfigError(f"{where(key)}: {key}: required (or max_batch_duration)")
    optim = model.get("optim")
    _value(optim, "model.optim", mapping(null=True), where)
    if optim:
        _section(optim, "model.optim", OPTIM, where, warn=False)
        if optim.get("sched"):
            _section(optim["sched"], "model.optim.sched", SCHED, where)
        _try_optimizer(optim, where)


def _front_end(model: dict, where: Where) -> None:
    """Sample rates audio can have, and a window that fits its FFT (else the STFT fails at the first batch)."""
    from harken.core.limits import limit, over

    def audio_rate(v: Any) -> str | None:
        if whole(1)(v) or limit("min_sample_rate") <= v <= limit("max_sample_rate"):
            return whole(1)(v)
        return str(over("min_sample_rate" if v < limit("min_sample_rate") else "max_sample_rate", "Hz", v))

    for key, value in (("model.sample_rate", model.get("sample_rate")),
                       ("model.preprocessor.sample_rate", (model.get("preprocessor") or {}).get("sample_rate"))):
        if value is not None:
            _value(value, key, audio_rate, where)
    pre = model.get("preprocessor")
    if not isinstance(pre, dict) or not isinstance(pre.get("n_fft"), int):
        return
    size, rate = pre.get("window_size"), pre.get("sample_rate") or model.get("sample_rate")
    window = pre.get("n_window_size") or (round(size * rate) if _is_number(size) and _is_number(rate) else 0)
    if _is_number(window) and window > pre["n_fft"]:
        raise ConfigError(f"{where('model.preprocessor.n_fft')}: model.preprocessor.n_fft: {pre['n_fft']} is "
                          f"shorter than the window ({window} samples); give at least {window}, or null")


def _augmentor(spec: dict, key: str, where: Where) -> None:
    from harken.data.augment_check import check_augmentor

    try:
        check_augmentor(spec, key)
    except ValueError as e:  # its message starts with the key of the option at fault
        raise ConfigError(f"{where(str(e).split(':', 1)[0])}: {e}") from None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _devices_fit(trainer: dict, where: Where) -> None:
    """Device counts and indices this machine has: processes on a CPU, GPUs that exist."""
    chosen, count = trainer.get("accelerator", "auto"), trainer.get("devices", 1)
    gpus = torch.cuda.device_count()
    nodes = trainer.get("num_nodes", 1)
    if nodes > 1 and not any(v in os.environ for v in CLUSTER_VARIABLES):
        raise ConfigError(f"{where('trainer.num_nodes')}: trainer.num_nodes: {nodes} nodes, but no cluster "
                          "environment (set MASTER_ADDR, MASTER_PORT and NODE_RANK on each node, or run under "
                          "SLURM or torchrun); otherwise the run waits for the other nodes forever")
    if chosen == "cpu" or chosen == "auto" and not gpus and not torch.backends.mps.is_available():
        ok = count == "auto" or isinstance(count, int) and count >= 1 or isinstance(count, str) and count.isdigit()
        if not ok:
            raise ConfigError(f"{where('trainer.devices')}: trainer.devices: on the CPU, a number of processes "
                              f"(1, 2, ...), got {count!r:.80}")
        _value(int(count) if str(count).isdigit() else 1, "trainer.devices", cpu_bound("processes"), where)
    elif chosen in ("gpu", "cuda"):
        wanted = count if isinstance(count, list) else [int(i) for i in count.split(",") if i.strip()] \
            if isinstance(count, str) and "," in count else None
        n = int(count) if isinstance(count, (int, str)) and str(count).strip().isdigit() else None
        if wanted and max(wanted) >= gpus or n is not None and n > gpus:
            raise ConfigError(f"{where('trainer.devices')}: trainer.devices: {count!r} but this machine has "
                              f"{gpus} GPU(s)")


def _value(v: Any, key: str, check: Check, where: Where) -> None:
    problem = check(v)
    if problem:
        raise ConfigError(f"{where(key)}: {key}: {problem}")


def _section(section: dict, prefix: str, table: dict[str, Check], where: Where, warn: bool = True) -> None:
    """Check the keys `table` knows; warn (once for the section) about those it does not."""
    dot = f"{prefix}." if prefix else ""
    unknown = []
    for key, value in section.items():
        if key in table:
            _value(value, dot + str(key), table[key], where)
        else:
            unknown.append(str(key))
    if unknown and warn:
        named = [k + "".join(f" (did you mean {m}?)" for m in difflib.get_close_matches(k, table, 1, 0.75))
                 for k in unknown]
        log.warning("warning: %s: ignoring %s harken does not read: %s", where(dot + unknown[0]),
                    "a key" if len(named) == 1 else "keys", ", ".join(dot + k for k in named))


def _try_optimizer(optim: dict, where: Where) -> None:
    """Build the optimizer and schedule for one dummy weight: names and options they refuse are refused now."""
    from harken.training.optim import build_optimizer, build_scheduler

    try:
        built = build_optimizer([torch.nn.Parameter(torch.zeros(1))], dict(optim))
        schedule = build_scheduler(built, optim.get("sched"), total_steps=100)
        if schedule is not None:
            schedule.lr_lambdas[0](10**6)  # past any warmup: the schedule's name is used there
    except TypeError as e:
        option = re.search(r"unexpected keyword argument '(\w+)'", str(e))
        key = f"model.optim.{option.group(1)}" if option else "model.optim"
        name = optim.get("name", "adamw")
        raise ConfigError(f"{where(key)}: {key}: "
                          + (f"not an option of the {name} optimizer" if option else str(e))) from None
    except ValueError as e:  # the builders' messages start `optim.name=...` or `optim.sched.name=...`
        named = re.match(r"(optim(?:\.sched)?\.\w+)=", str(e))
        key = f"model.{named.group(1)}" if named else "model.optim"
        raise ConfigError(f"{where(key)}: {e if named else f'{key}: {e}'}") from None


BUILD_ERRORS = (ValueError, TypeError, IndexError, AttributeError, KeyError, ZeroDivisionError)
_MODEL_KEY = re.compile(r"model config: ([\w.\[\]]+):")


def model_error(e: Exception, where: Where) -> ConfigError:
    """An error building the model from `model:`, led by where its key was set (when the message names one)."""
    if isinstance(e, ValueError):
        key = _MODEL_KEY.match(str(e))
        dotted = "model." + re.sub(r"\[(\d+)\]", r".\1", key.group(1)) if key else "model"
        return ConfigError(f"{where(dotted)}: {e}")
    return ConfigError(f"{where('model')}: the model section does not describe a model harken can build "
                       f"({type(e).__name__}: {str(e)[:300]})")


@contextmanager
def lightning_errors(where: Where, building: bool = False) -> Iterator[None]:
    """Lightning's refusals of trainer settings as one line naming the trainer section; `building` the Trainer,
    also its ValueErrors and a missing optional package a setting needs."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    refused = (MisconfigurationException, ImportError, ValueError) if building else MisconfigurationException
    try:
        yield
    except refused as e:
        first = (str(e).strip() or type(e).__name__).splitlines()[0][:300]
        raise ConfigError(f"{where('trainer')}: trainer: {first}") from None
