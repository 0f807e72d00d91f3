"""What `harken train` checks about its run folder before it trains, so no run is lost or mixed with another.

- A folder that holds a run (checkpoints, config.yaml, model.nemo) is refused without `--resume`: a new run
  there would replace `last.ckpt` and `config.yaml`, and its `model.nemo` would take the old run's `best.ckpt`
  weights. `--overwrite` starts over in it, removing the old run's checkpoints first.
- `--resume` reads `last.ckpt` (and `best.ckpt`) before Lightning does: a file cut short, one that is not a
  checkpoint, or a checkpoint of another architecture is one line saying so, not a traceback from the restore.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

RUN_FILES = ("checkpoints/last.ckpt", "checkpoints/best.ckpt", "config.yaml", "model.nemo")


def primary_process() -> bool:
    """False in the processes a distributed launcher starts for ranks above 0: they run the same command,
    after the first process has already begun the run."""
    return all(os.environ.get(var, "0") == "0" for var in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def existing_run(run_dir: Path) -> list[str]:
    """The files of a run already in `run_dir`, relative to it."""
    found = [name for name in RUN_FILES if (run_dir / name).exists()]
    return found + sorted(f"checkpoints/{p.name}" for p in (run_dir / "checkpoints").glob("step_*.ckpt"))


def check_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    if resume and overwrite:
        raise ValueError("--resume continues the run in --out, --overwrite starts a new one there: give one of them")
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--out {run_dir}: is a file; give a folder for the run")
    found = existing_run(run_dir) if not resume else []
    if found and not overwrite:
        shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        raise ValueError(f"{run_dir} holds a run already ({shown}): continue it with --resume, give another --out, "
                         "or --overwrite to start over there (its checkpoints and model.nemo are removed)")


def clear_run(run_dir: Path) -> None:
    """Remove an old run's checkpoints, config and model (`--overwrite`); its logs stay, as new versions."""
    for name in existing_run(run_dir):
        (run_dir / name).unlink(missing_ok=True)


def check_resume(last: Path, best: Path, module: torch.nn.Module) -> None:
    """`last` (and `best`, which model.nemo takes at the end, if there is one) are checkpoints that fit `module`:
    a damaged best.ckpt found after hours of training would cost the run its model.nemo."""
    if not last.exists():
        raise FileNotFoundError(f"--resume: no checkpoint at {last}")
    _check_checkpoint(last, module)
    if best.exists():
        _check_checkpoint(best, module)


def _check_checkpoint(path: Path, module: torch.nn.Module) -> None:
    """`path` is a Lightning checkpoint whose weights fit `module` (names and shapes), or a ValueError saying why
    not. Memory-mapped where possible, so a large checkpoint is not read twice."""
    if not path.is_file():
        raise ValueError(f"--resume: {path} is not a file")
    try:
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as e:
            if "mmap" not in str(e):
                raise
            ckpt = torch.load(path, map_location="cpu", weights_only=True)  # an old-format (non-zip) file
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, ValueError...
        first = (str(e).strip() or type(e).__name__).splitlines()[0].split(". ")[0][:160]
        detail = "" if first.startswith("Weights only load failed") else f" ({first})"  # torch's advice misleads
        raise ValueError(f"--resume: {path} cannot be read as a checkpoint{detail}: it was cut short, is damaged "
                         "or is not a checkpoint harken wrote; give another --out, or --overwrite to start over"
                         ) from None
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"--resume: {path} is not a training checkpoint (no state_dict); to start from a model's "
                         "weights use init_from=PATH in a new --out")
    _check_fits(path, state, module.state_dict())


def _check_fits(path: Path, saved: dict, wanted: dict) -> None:
    missing = [k for k in wanted if k not in saved]
    extra = [k for k in saved if k not in wanted]
    shapes = [k for k in wanted if k in saved and tuple(getattr(saved[k], "shape", ())) != tuple(wanted[k].shape)]
    if not (missing or extra or shapes):
        return
    if shapes:
        k = shapes[0]
        example = f"{k} is {list(saved[k].shape)} there, {list(wanted[k].shape)} in this config's model"
    else:
        example = f"{missing[0]} is missing there" if missing else f"it has {extra[0]}, which this model does not"
    raise ValueError(f"--resume: {path} holds another architecture ({len(missing) + len(extra) + len(shapes)} "
                     f"weight(s) differ; e.g. {example}): resume with the config the run was trained with "
                     "(its config.yaml), or start a new --out (init_from=PATH takes weights that fit)")
