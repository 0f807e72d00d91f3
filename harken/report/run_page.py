"""`harken report RUN_DIR`: one page about a training run, from what `harken train` left in its folder.

    DIR/logs/csv/version_N/metrics.csv   the curves (every version: a resumed run adds one)
    DIR/config.yaml                      the resolved config that ran
    DIR/model.nemo, DIR/checkpoints/     the final model and the checkpoints kept
    DIR/logs/tracking_ids.json           the W&B / MLflow runs it also logged to

Curves as pictures (charts.py): loss (train and validation, log scale), validation WER and CER, learning
rate, then any other metric the run logged; then the final metrics and the config.
"""

from __future__ import annotations

import csv
import html
import json
import math
import re
from pathlib import Path

from harken.core.atomic import atomic_write_text
from harken.report import charts

# (title, metrics, log scale): the curves first shown; other logged metrics follow, one chart each
PANELS = [("loss", ["train_loss", "val_loss"], True), ("validation WER and CER", ["val_wer", "val_cer"], False),
          ("learning rate", ["lr"], False)]
NOT_CURVES = {"epoch", "step"}
STYLE = """body{font-family:system-ui,sans-serif;margin:24px;color:#222}table.m td{padding:2px 14px 2px 0}
pre{background:#f6f6f6;padding:10px;font-size:13px;max-height:600px;overflow:auto}small{color:#666}"""

Series = dict[str, list[tuple[int, float]]]  # metric -> (step, value), by step


def read_metrics(run_dir: str | Path) -> Series:
    """Every metric of the run's CSV logs; a later version (a resumed run) wins where steps repeat."""
    files = sorted((Path(run_dir) / "logs" / "csv").glob("version_*/metrics.csv"), key=_version)
    if not files:
        raise ValueError(f"{run_dir}: no logs/csv/version_*/metrics.csv: not a harken run folder "
                         "(harken train --out DIR writes one)")
    values: dict[str, dict[int, float]] = {}
    for path in files:
        with path.open(newline="", encoding="utf-8") as f:
            for line, row in enumerate(csv.DictReader(f), 2):
                try:
                    step = int(float(row.get("step") or "nan"))
                except ValueError:
                    raise ValueError(f"{path}:{line}: 'step' is not a number: {row.get('step')!r}") from None
                for key, text in row.items():
                    if key and key not in NOT_CURVES and text not in (None, ""):
                        values.setdefault(key, {})[step] = _number(text, path, line, key)
    return {k: sorted(v.items()) for k, v in values.items()}


def build_run_report(run_dir: str | Path, out: str | Path) -> Path:
    run_dir = Path(run_dir)
    metrics = read_metrics(run_dir)
    panels = []
    for title, keys, log in PANELS + [(k, [k], False) for k in sorted(metrics) if not _in_panels(k)]:
        panels.append(charts.line_chart(title, {k: _xy(metrics[k]) for k in keys if k in metrics}, log_y=log))
    config = run_dir / "config.yaml"
    name = html.escape(run_dir.resolve().name)
    body = [f"<h1>Training run {name}</h1>", f"<p><small>{html.escape(str(run_dir))}</small></p>",
            "<h2>Training curves</h2><div>", *panels, "</div>", _final(run_dir, metrics), "<h2>Config</h2>",
            f"<pre>{html.escape(config.read_text(encoding='utf-8'))}</pre>" if config.exists()
            else "<p>no config.yaml in the run folder</p>"]
    page = (f"<!doctype html><html><head><meta charset=utf-8><title>training run {name}</title>"
            f"<style>{STYLE}{charts.CSS}</style></head><body>{''.join(body)}</body></html>")
    return atomic_write_text(out, page)


def _final(run_dir: Path, metrics: Series) -> str:
    last = max((s for v in metrics.values() for s, _ in v), default=None)
    rows = [("steps", "none logged" if last is None else str(last + 1))]
    for key in sorted(metrics):
        step, value = metrics[key][-1]
        rows.append((f"{key} (last)", f"{value:.4g} at step {step}"))
        if key.startswith("val_"):
            best_step, best = min(metrics[key], key=lambda sv: sv[1])
            rows.append((f"{key} (best)", f"{best:.4g} at step {best_step}"))
    model = run_dir / "model.nemo"
    rows.append(("model.nemo", f"{model.stat().st_size / 1e6:.1f} MB" if model.exists() else "not written (yet)"))
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").glob("*.ckpt"))
    rows.append(("checkpoints", ", ".join(checkpoints) or "none"))
    ids = run_dir / "logs" / "tracking_ids.json"
    if ids.exists():
        for tracker, run_id in json.loads(ids.read_text(encoding="utf-8")).items():
            rows.append((f"{tracker} run", str(run_id)))
    cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<h2>Final metrics</h2><table class=m>{cells}</table>"


def _in_panels(key: str) -> bool:
    return any(key in keys for _, keys, _ in PANELS)


def _xy(points: list[tuple[int, float]]) -> tuple[list[float], list[float]]:
    return [s for s, _ in points], [v for _, v in points]


def _version(path: Path) -> int:
    match = re.fullmatch(r"version_(\d+)", path.parent.name)
    return int(match.group(1)) if match else -1


def _number(text: str, path: Path, line: int, key: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}:{line}: {key} is not a number: {text!r}") from None
    return value if math.isfinite(value) else math.nan
