"""`harken sweep`: Optuna trials as ordinary tiny runs, the results table, resume after a kill, grid search,
pruning, parallel workers, and clear errors for bad space files."""

import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch
import yaml

from harken.cli.main import main
from harken.core.config import dump_config
from tests.conftest import tiny_config

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

SPACE = {
    "model.optim.lr": {"type": "loguniform", "low": "1e-3", "high": 5e-2},
    "model.optim.weight_decay": {"type": "uniform", "low": 0.0, "high": 0.01},
    "model.train_ds.batch_size": [5, 10],
    "metric": "val_loss",  # val_wer is 1.0 for every trial after two steps: no order to check
    "goal": "minimize",
}


@pytest.fixture
def sweep_files(espeak_corpus, tmp_path):
    """Writes a tiny config (2 steps, validation every epoch) and a space file; returns a factory."""

    def make(space=None, **exp):
        cfg = tiny_config(espeak_corpus.manifests["train"], espeak_corpus.manifests["val"], max_steps=2,
                          max_epochs=2, check_val_every_n_epoch=1, num_sanity_val_steps=0)
        cfg["exp_manager"] = {"name": "tiny", "create_tensorboard_logger": False, **exp}
        config, space_file = tmp_path / "tiny.yaml", tmp_path / "space.yaml"
        config.write_text(dump_config(cfg))
        space_file.write_text(yaml.safe_dump(SPACE if space is None else space))
        return str(config), str(space_file)

    return make


def _study(out):
    return optuna.load_study(study_name="harken-sweep", storage=f"sqlite:///{out / 'sweep.db'}")


def _table(text):
    """The rows of the printed markdown table, as dicts."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(head, (c.strip() for c in line.strip("|").split("|")))) for line in lines[1:]]


def test_six_trial_sweep_prints_its_table_sorted_by_metric(sweep_files, tmp_path, capsys, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    config, space = sweep_files(create_mlflow_logger=True, mlflow_logger_kwargs={"experiment_name": "sw"})
    out = tmp_path / "sweep"
    assert main(["sweep", config, "--space", space, "--trials", "6", "--method", "random", "--out", str(out),
                 "trainer.log_every_n_steps=1"]) == 0
    rows = _table(capsys.readouterr().out)
    assert len(rows) == 6 and {r["state"] for r in rows} <= {"complete", "pruned"}
    complete = [float(r["val_loss"]) for r in rows if r["state"] == "complete"]
    assert complete == sorted(complete) and len(set(complete)) == len(complete)
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 7)]
    assert (out / "results.md").read_text().count("| trial_") == 6
    assert (out / "results.csv").read_text().splitlines()[0].startswith("rank,trial,state,val_loss,model.optim.lr")
    for trial in _study(out).trials:  # every trial is a normal run folder with its sampled values in its config
        run = out / f"trial_{trial.number:04d}"
        ran = yaml.safe_load((run / "config.yaml").read_text())
        assert ran["model"]["optim"]["lr"] == trial.params["model.optim.lr"]
        assert ran["model"]["train_ds"]["batch_size"] == trial.params["model.train_ds.batch_size"]
        assert (run / "model.nemo").exists() and (run / "checkpoints" / "last.ckpt").exists()
    client = mlflow.tracking.MlflowClient(tracking_uri=(out / "mlruns").as_uri())  # trials log to MLflow too
    runs = client.search_runs([client.get_experiment_by_name("sw").experiment_id])
    assert sorted(r.info.run_name for r in runs) == [f"trial_{i:04d}" for i in range(6)]
    assert {r.data.tags["sweep"] for r in runs} == {"sweep"}


def _states(out):
    return [t.state for t in _study(out).get_trials(deepcopy=False)]


def test_killed_sweep_resumes_and_ends_with_six_trials(sweep_files, tmp_path, capsys):
    config, space = sweep_files()
    out = tmp_path / "sweep"
    args = ["sweep", config, "--space", space, "--trials", "6", "--method", "tpe", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "harken", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        seen = []
        while sum(line.startswith("trial_") for line in seen) < 2:  # a line per finished trial
            seen.append(proc.stdout.readline())
            assert seen[-1], "".join(seen)[-3000:]  # the sweep ended early
        deadline = time.monotonic() + 120
        while True:  # the 3rd trial is running: freeze the sweep, check it still runs, kill it
            assert proc.poll() is None and time.monotonic() < deadline
            if TrialState.RUNNING in _states(out):
                os.killpg(proc.pid, signal.SIGSTOP)
                if TrialState.RUNNING in _states(out):
                    break
                os.killpg(proc.pid, signal.SIGCONT)
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    (killed,) = [t for t in _study(out).trials if t.state == TrialState.RUNNING]

    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"re-running interrupted or failed trial_{killed.number:04d}" in printed
    trials = _study(out).trials
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 6
    failed = trials[killed.number]
    assert failed.state == TrialState.FAIL and failed.user_attrs["interrupted"] is True
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == killed.number]
    # the retry keeps every value the killed trial had drawn (it may have been stopped before drawing them all)
    assert killed.params.items() <= retry.params.items() and retry in finished
    rows = _table(printed)
    assert len(rows) == 7 and rows[-1]["trial"] == f"trial_{killed.number:04d}" and rows[-1]["state"] == "fail"
    assert f"re-run of trial_{killed.number:04d}" in (out / "results.md").read_text()


def test_more_trials_extend_a_finished_sweep_without_repeating_draws(sweep_files, tmp_path, capsys):
    config, space = sweep_files(SPACE | {"pruner": "none"})
    out = tmp_path / "sweep"
    args = ["sweep", config, "--space", space, "--method", "random", "--out", str(out)]
    assert main([*args, "--trials", "3"]) == 0
    assert main([*args, "--trials", "6"]) == 0
    assert "resuming" in capsys.readouterr().out
    trials = _study(out).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert len({t.params["model.optim.lr"] for t in trials}) == 6  # the resumed sampler is seeded afresh


def test_grid_method_runs_each_point_once(sweep_files, tmp_path, capsys):
    space = {"model.optim.lr": {"type": "categorical", "choices": [0.01, 0.02]},
             "model.train_ds.batch_size": {"type": "int", "low": 5, "high": 10, "step": 5}, "pruner": "none"}
    config, space_file = sweep_files(space)
    out = tmp_path / "grid"
    assert main(["sweep", config, "--space", space_file, "--trials", "10", "--method", "grid", "--out", str(out)]) == 0
    assert "the grid has 4 points: running 4 trials, not 10" in capsys.readouterr().out
    points = sorted((t.params["model.optim.lr"], t.params["model.train_ds.batch_size"]) for t in _study(out).trials)
    assert points == [(0.01, 5), (0.01, 10), (0.02, 5), (0.02, 10)]


@pytest.mark.parametrize(("space", "message"), [
    ({"model.optim.lr": {"type": "lognormal", "low": 1, "high": 2}}, "model.optim.lr: type must be one of"),
    ({"model.optim.lr": {"type": "uniform", "low": 0.1, "high": 0.01}}, "low (0.1) must be below high (0.01)"),
    ({"model.optim.lr": {"type": "loguniform", "low": 0, "high": 0.1}}, "a log scale needs low > 0"),
    ({"model.optim.lr": {"type": "uniform", "low": 0.1}}, "uniform needs low and high"),
    ({"model.optim.lr": {"type": "uniform", "low": 0.1, "high": 1, "q": 2}}, "uniform takes high, low, step, not q"),
    ({"model.optim.lr": {"type": "categorical", "choices": []}}, "needs a non-empty list of choices"),
    ({"model.optim.lr": 0.1}, "expected a distribution"),
    ({"model.optim.lrr": [0.1, 0.2]}, "model.optim.lrr: no such key in the config (write +model.optim.lrr"),
    ({"metric": "val_wer"}, "no parameters to sweep"),
    ({"model.optim.lr": [0.1], "goal": "lowest"}, "goal: expected minimize or maximize"),
    ({"model.optim.lr": [0.1], "pruner": "hyperband"}, "pruner: expected median, none"),
    ({"model.optim.lr": {"type": "uniform", "low": 0.1, "high": 1}, "method": "grid"},
     "grid search needs discrete values"),
    ("[not a mapping]", "expected a mapping at the top level"),
])
def test_bad_space_file_is_a_clear_one_line_error(sweep_files, tmp_path, capsys, space, message):
    config, space_file = sweep_files(space if isinstance(space, dict) else {"x": [1]})
    if not isinstance(space, dict):
        (tmp_path / "space.yaml").write_text(space)
    assert main(["sweep", config, "--space", space_file, "--trials", "2", "--out", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("harken sweep: error: ") and message in err and "\n" not in err, err
    assert not (tmp_path / "s" / "sweep.db").exists()  # nothing ran


def test_missing_space_file_and_busy_folder_are_clear_errors(sweep_files, tmp_path, capsys):
    from harken.training.sweep_study import FolderLock

    config, space = sweep_files()
    assert main(["sweep", config, "--space", str(tmp_path / "nope.yaml"), "--trials", "2", "--out",
                 str(tmp_path / "s")]) == 1
    assert "nope.yaml: config file not found" in capsys.readouterr().err
    (tmp_path / "s").mkdir()
    with FolderLock(tmp_path / "s"):
        assert main(["sweep", config, "--space", space, "--trials", "2", "--out", str(tmp_path / "s")]) == 1
    assert "another sweep is running on" in capsys.readouterr().err


def test_missing_optuna_names_the_extra(monkeypatch):
    from harken.training import extras
    from harken.training.sweep import run_sweep
    from harken.training.sweep_space import parse_spec

    monkeypatch.setattr(extras.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(extras.MissingExtra, match=r"sweep needs the optuna package: pip install 'harken\[sweep\]'"):
        run_sweep({}, parse_spec({"a": [1]}), "unused", 2)


def test_reporter_prunes_a_trial_worse_than_the_median():
    from harken.training.sweep_pruning import TrialReporter

    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    first = study.ask()
    first.report(0.2, 4)
    study.tell(first, 0.2)

    def validate(trial, value, step=4):
        reporter = TrialReporter(trial, "val_wer", "minimize")
        trainer = SimpleNamespace(sanity_checking=False, is_global_zero=True, global_step=step, should_stop=False,
                                  callback_metrics={"val_wer": torch.tensor(value)})
        reporter.on_validation_end(trainer, None)
        return reporter, trainer

    reporter, trainer = validate(study.ask(), 0.1)
    assert not trainer.should_stop and reporter.pruned_at is None and reporter.best == pytest.approx(0.1)
    reporter, trainer = validate(study.ask(), 0.9)
    assert trainer.should_stop and reporter.pruned_at == 4  # worse than the median at step 4: stopped


@pytest.mark.slow
def test_parallel_jobs_run_exactly_the_asked_trials(sweep_files, tmp_path, capsys):
    config, space = sweep_files(SPACE | {"pruner": "none"})
    out = tmp_path / "par"
    assert main(["sweep", config, "--space", space, "--trials", "4", "--jobs", "2", "--method", "random",
                 "--out", str(out)]) == 0
    trials = _study(out).trials
    assert len(trials) == 4 and all(t.state == TrialState.COMPLETE for t in trials)
    assert len(_table(capsys.readouterr().out)) == 4


def test_a_pruned_trial_stops_training_early_and_is_listed_as_pruned(espeak_corpus, tmp_path):
    from harken.training.sweep_results import markdown, result_rows
    from harken.training.sweep_space import parse_spec
    from harken.training.sweep_trial import objective

    spec = parse_spec({"model.optim.lr": [0.02], "metric": "val_loss", "pruner": {"type": "median",
                                                                                  "n_startup_trials": 1}})
    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    earlier = study.ask({"model.optim.lr": optuna.distributions.CategoricalDistribution([0.02])})
    for step in range(1, 5):
        earlier.report(0.0, step)  # an earlier trial with a perfect validation loss at every step
    study.tell(earlier, 0.0)
    cfg = tiny_config(espeak_corpus.manifests["train"], espeak_corpus.manifests["val"], max_steps=4, max_epochs=4,
                      check_val_every_n_epoch=1, num_sanity_val_steps=0)
    cfg["exp_manager"] = {"create_tensorboard_logger": False}
    study.optimize(lambda trial: objective(trial, cfg, spec, tmp_path), n_trials=1)
    trial = study.trials[1]
    assert trial.state == TrialState.PRUNED and trial.user_attrs["pruned_at"] == 1
    assert torch.load(tmp_path / "trial_0001" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 1
    assert (tmp_path / "trial_0001" / "model.nemo").exists()  # a pruned run still ends like any other
    row = result_rows(study, spec)[1]
    assert row["state"] == "pruned" and row["val_loss"] == trial.user_attrs["best_value"] > 0
    assert "pruned at step 1" in markdown([row], spec)
