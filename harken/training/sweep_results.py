"""The results table of a sweep, best first: printed, and written as `DIR/results.md` and `DIR/results.csv`.

Order: complete trials by their metric (the best validation value of each run), then pruned trials by the best
value they reached before being stopped, then failed and running ones. Rewritten after every trial, so a
killed sweep still leaves the table of what finished.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from harken.core.atomic import atomic_write_bytes
from harken.training.sweep_space import SweepSpec

_STATE_ORDER = {TrialState.COMPLETE: 0, TrialState.PRUNED: 1, TrialState.FAIL: 2, TrialState.RUNNING: 3,
                TrialState.WAITING: 4}


def trial_name(number: int) -> str:
    return f"trial_{number:04d}"


def result_rows(study: optuna.Study, spec: SweepSpec) -> list[dict[str, Any]]:
    sign = 1.0 if spec.goal == "minimize" else -1.0
    rows = [_row(t, spec) for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]

    def order(row: dict) -> tuple:
        value = row[spec.metric]
        missing = value is None or math.isnan(value)
        return _STATE_ORDER[row["_state"]], missing, 0.0 if missing else sign * value, row["_number"]

    rows.sort(key=order)
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank if row["_state"] in (TrialState.COMPLETE, TrialState.PRUNED) else ""
    return rows


def columns(spec: SweepSpec) -> list[str]:
    return ["rank", "trial", "state", spec.metric, *[p.key for p in spec.params], "best_step", "seconds", "note"]


def markdown(rows: list[dict[str, Any]], spec: SweepSpec) -> str:
    cols = columns(spec)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(_text(row.get(c)) for c in cols) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_results(out: Path, rows: list[dict[str, Any]], spec: SweepSpec) -> str:
    """Write results.md and results.csv; returns the markdown table."""
    table = markdown(rows, spec)
    title = f"# Sweep results: {spec.metric} ({spec.goal})\n\n"
    atomic_write_bytes(out / "results.md", (title + table).encode("utf-8"))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns(spec), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(out / "results.csv", buf.getvalue().encode("utf-8"))
    return table


def _row(t: FrozenTrial, spec: SweepSpec) -> dict[str, Any]:
    value = t.value if t.state == TrialState.COMPLETE else t.user_attrs.get("best_value")
    timed = t.datetime_complete and t.datetime_start and not t.user_attrs.get("interrupted")  # ended at recovery
    seconds = (t.datetime_complete - t.datetime_start).total_seconds() if timed else None
    note = []
    if "retry_of" in t.user_attrs:
        note.append(f"re-run of {trial_name(t.user_attrs['retry_of'])}")
    if t.user_attrs.get("interrupted"):
        note.append("interrupted")
    if "error" in t.user_attrs:
        note.append(str(t.user_attrs["error"])[:80])
    if t.state == TrialState.PRUNED and "pruned_at" in t.user_attrs:
        note.append(f"pruned at step {t.user_attrs['pruned_at']}")
    return {"_state": t.state, "_number": t.number, "trial": trial_name(t.number), "state": t.state.name.lower(),
            spec.metric: value, **{p.key: t.params.get(p.key) for p in spec.params},
            "best_step": t.user_attrs.get("best_step"), "seconds": None if seconds is None else round(seconds, 1),
            "note": "; ".join(note)}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")
