"""Experiment tracking: one tiny run logs to TensorBoard, W&B (offline) and MLflow (a file store); each tracker's
own reader then reads back the config as parameters, the metrics, and the final `.nemo` as an artifact."""

import json
from pathlib import Path

import pytest

from harken.training.extras import MissingExtra
from harken.training.run import train
from tests.conftest import tiny_config

STEPS = 3


def _tracked_config(corpus, tmp, **exp) -> dict:
    cfg = tiny_config(corpus.manifests["train"], corpus.manifests["val"], max_steps=STEPS, max_epochs=STEPS,
                      check_val_every_n_epoch=1, num_sanity_val_steps=0)
    cfg["exp_manager"] = {"name": "tracked", "create_tensorboard_logger": True, **exp}
    return cfg


@pytest.fixture(scope="module")
def tracked_run(espeak_corpus, tmp_path_factory):
    """One run with every installed tracker on: (run folder, MLflow tracking URI)."""
    tmp = tmp_path_factory.mktemp("tracked")
    uri = f"file:{tmp / 'mlruns'}"
    exp = {}
    try:
        import wandb  # noqa: F401

        exp.update(create_wandb_logger=True, wandb_logger_kwargs={"project": "harken-test", "tags": ["tiny"]})
    except ImportError:
        pass
    try:
        import mlflow  # noqa: F401

        exp.update(create_mlflow_logger=True, mlflow_logger_kwargs={
            "experiment_name": "asr", "tracking_uri": uri, "tags": {"purpose": "test"}})
    except ImportError:
        pass
    with pytest.MonkeyPatch.context() as mp:
        for var in ("WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR", "WANDB_ARTIFACT_DIR"):
            mp.setenv(var, str(tmp / var.lower()))
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        train(_tracked_config(espeak_corpus, tmp, **exp), out=str(tmp / "run"), progress=False)
    return tmp / "run", uri


def test_tensorboard_scalars_read_back(tracked_run):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, _ = tracked_run
    events = EventAccumulator(str(next((run_dir / "logs" / "tensorboard").glob("version_*")))).Reload()
    assert [e.step for e in events.Scalars("train_loss")] == list(range(STEPS))
    assert len(events.Scalars("val_wer")) == STEPS  # one validation per epoch, one batch per epoch
    assert 0.0 <= events.Scalars("val_wer")[-1].value <= 1.0


def test_mlflow_file_store_read_back(tracked_run, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 reads file stores only when asked to
    from mlflow.tracking import MlflowClient

    import harken

    run_dir, uri = tracked_run
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("asr")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.tags["purpose"] == "test"
    assert run.data.params["model.optim.lr"] == "0.02"  # the resolved config, flattened
    assert run.data.params["trainer.max_steps"] == str(STEPS)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == list(range(STEPS))
    assert len(client.get_metric_history(run.info.run_id, "val_wer")) == STEPS
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"model.nemo", "config.yaml"}
    local = client.download_artifacts(run.info.run_id, "model.nemo", str(tmp_path))
    assert harken.load(local).cfg == harken.load(str(run_dir / "model.nemo")).cfg
    assert json.loads((run_dir / "logs" / "tracking_ids.json").read_text())["mlflow"] == run.info.run_id


def test_wandb_offline_run_read_back(tracked_run):
    pytest.importorskip("wandb")
    from tests.wandb_records import read_records

    run_dir, _ = tracked_run
    (log_file,) = (run_dir / "logs" / "wandb").glob("offline-run-*/run-*.wandb")
    records = read_records(log_file)
    kinds = [r.WhichOneof("record_type") for r in records]
    run = records[kinds.index("run")].run
    assert run.project == "harken-test" and run.display_name == "run" and list(run.tags) == ["tiny"]
    config = {}
    for r in records:
        if r.WhichOneof("record_type") in ("run", "config"):
            cfg_record = r.run.config if r.WhichOneof("record_type") == "run" else r.config
            config.update({u.key: json.loads(u.value_json) for u in cfg_record.update})
    assert config["model"]["optim"]["lr"] == 0.02 and config["trainer"]["max_steps"] == STEPS
    history = [{h.key or "/".join(h.nested_key): json.loads(h.value_json) for h in r.history.item}
               for r in records if r.WhichOneof("record_type") == "history"]
    assert sum("train_loss" in row for row in history) == STEPS
    assert sum("val_wer" in row for row in history) == STEPS
    (artifact,) = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"
                   and r.artifact.type == "model"]
    assert artifact.name == f"model-{run.run_id}"
    sizes = {c.path: c.size for c in artifact.manifest.contents}
    assert sizes == {"model.nemo": (run_dir / "model.nemo").stat().st_size,
                     "config.yaml": (run_dir / "config.yaml").stat().st_size}
    assert kinds[-1] == "exit" or "exit" in kinds  # the run was finished, not left open


def _wandb_table(records, run_id: str, key: str) -> tuple[dict, dict[str, str]]:
    """A logged table as W&B keeps it: the `run_table` artifact's table JSON and its files (path -> local copy),
    after checking that the run's history points at it."""
    history = [{"/".join(h.nested_key) or h.key: json.loads(h.value_json) for h in r.history.item}
               for r in records if r.WhichOneof("record_type") == "history"]
    assert [row[f"{key}/_type"] for row in history if f"{key}/_type" in row] == ["table-file"]
    (artifact,) = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"
                   and r.artifact.type == "run_table" and r.artifact.name == f"run-{run_id}-{key}"]
    files = {c.path: c.local_path for c in artifact.manifest.contents}
    with open(files[f"{key}.table.json"], encoding="utf-8") as f:
        return json.load(f), files


def test_wandb_data_and_prediction_tables_with_audio(tracked_run):
    pytest.importorskip("wandb")
    import soundfile as sf

    import harken
    from harken.core.config import load_config
    from harken.data.manifest import read_manifest
    from harken.metrics.evaluate import evaluate
    from tests.wandb_records import read_records

    run_dir, _ = tracked_run
    (log_file,) = (run_dir / "logs" / "wandb").glob("offline-run-*/run-*.wandb")
    records = read_records(log_file)
    run_id = next(r.run.run_id for r in records if r.WhichOneof("record_type") == "run")
    cfg = load_config(run_dir / "config.yaml")
    manifests = {"train": cfg["model"]["train_ds"]["manifest_filepath"],
                 "validation": cfg["model"]["validation_ds"]["manifest_filepath"]}
    rows = {split: {Path(e.audio_filepath).name: e for e in read_manifest(m)} for split, m in manifests.items()}

    def check_audio(cell: dict, files: dict[str, str], entry) -> None:
        assert cell["_type"] == "audio-file" and cell["caption"] == Path(entry.audio_filepath).name
        audio, rate = sf.read(files[cell["path"]])  # the wav W&B will upload
        assert rate == 16000 and abs(len(audio) / rate - entry.duration) < 0.01

    data, files = _wandb_table(records, run_id, "data")
    assert data["columns"] == ["split", "audio", "text", "duration"]
    splits = [split for split, *_ in data["data"]]
    assert splits.count("train") == len(rows["train"]) and splits.count("validation") == len(rows["validation"])
    for split, audio, text, duration in data["data"]:  # 10 + 4 rows: fewer than the 16 a table holds
        entry = rows[split][audio["caption"]]
        assert (text, duration) == (entry.text, entry.duration)
        check_audio(audio, files, entry)

    table, files = _wandb_table(records, run_id, "predictions")
    assert table["columns"] == ["audio", "reference", "hypothesis", "wer"]
    scored = {Path(p["audio_filepath"]).name: p for p in
              evaluate(harken.load(str(run_dir / "model.nemo")), manifests["validation"]).predictions}
    assert len(table["data"]) == len(scored) == 4
    for audio, reference, hypothesis, wer in table["data"]:  # the final model's own output on each row
        pred = scored[audio["caption"]]
        assert (reference, hypothesis, wer) == (pred["text"], pred["pred_text"], pred["wer"])
        check_audio(audio, files, rows["validation"][audio["caption"]])


def test_wandb_table_rows_setting(espeak_corpus):
    from harken.core.config import ConfigError
    from harken.training.wandb_tables import _sample, table_rows

    cfg = _tracked_config(espeak_corpus, None)
    assert table_rows(cfg) == 16
    cfg["exp_manager"]["wandb_table_rows"] = 2
    assert [e.text for e in _sample(cfg, "train_ds", 2)] == [e.text for e in _sample(cfg, "train_ds", 2)]
    assert len(_sample(cfg, "validation_ds", 2)) == 2 and _sample(cfg, "validation_ds", 0) == []
    cfg["model"]["train_ds"]["is_tarred"] = True
    assert _sample(cfg, "train_ds", 2) == []  # tarred data has no rows to sample
    for bad in (-1, "8", True, 1.5):
        cfg["exp_manager"]["wandb_table_rows"] = bad
        with pytest.raises(ConfigError, match="wandb_table_rows"):
            table_rows(cfg)


def test_mlflow_resume_continues_the_same_run(espeak_corpus, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    uri = f"file:{tmp_path / 'mlruns'}"
    cfg = _tracked_config(espeak_corpus, tmp_path, create_tensorboard_logger=False, create_mlflow_logger=True,
                          mlflow_logger_kwargs={"experiment_name": "resumed", "tracking_uri": uri})
    cfg["trainer"].update(max_steps=2, max_epochs=10, check_val_every_n_epoch=1000)
    train(cfg, out=str(tmp_path / "run"), progress=False)
    cfg["trainer"]["max_steps"] = 4
    train(cfg, out=str(tmp_path / "run"), resume=True, progress=False)
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("resumed").experiment_id])
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [0, 1, 2, 3]
    assert run.info.status == "FINISHED"


def test_missing_tracker_package_names_the_extra(monkeypatch, tmp_path):
    from harken.training import extras
    from harken.training.loggers import build_loggers

    monkeypatch.setattr(extras.importlib.util, "find_spec", lambda name: None)
    for key, extra in (("create_wandb_logger", "wandb"), ("create_mlflow_logger", "mlflow"),
                       ("create_tensorboard_logger", "tensorboard")):
        with pytest.raises(MissingExtra, match=rf"pip install 'harken\[{extra}\]'"):
            build_loggers({"exp_manager": {key: True}}, tmp_path)
    assert len(build_loggers({"exp_manager": {}}, tmp_path)) == 1  # CSV only; TensorBoard silently off
