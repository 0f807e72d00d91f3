"""Training classifiers with `harken train`: MatchboxNet overfits a handful of clips (accuracy 1.0) and its
model.nemo works in `harken classify`; a frame VAD learns per-frame labels (NeMo's "0 0 1 1" manifests); a
resumed run ends with the uninterrupted run's weights; bad labels fail naming the manifest line."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
import torch

import harken
from harken.cli.main import main
from harken.configs import load_named_config
from harken.core.config import apply_overrides
from harken.data.manifest import ManifestError
from harken.models.classifier import FrameClassifier, SpeechClassifier
from harken.training.classifier_task import frame_targets, metrics
from harken.training.run import model_class, train
from tests.test_training import _Crash, _CrashAtStep

SR = 16000
LABELS = ["yes", "no", "up", "silence"]


def _clip(label: str, rng: np.random.Generator, seconds: float = 0.5) -> np.ndarray:
    """Easily told apart: two tones, a rising chirp, quiet noise (random phase, level and onset)."""
    t = np.arange(int(seconds * SR)) / SR
    if label == "silence":
        return (rng.standard_normal(len(t)) * 0.003).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi)
    if label == "up":
        wave = np.sin(2 * np.pi * (300 * t + 1200 * t ** 2) + phase)
    else:
        wave = np.sin(2 * np.pi * (350 if label == "yes" else 1100) * t + phase)
    env = np.clip((t - rng.uniform(0, 0.1)) * 40, 0, 1)
    return (wave * env * rng.uniform(0.2, 0.5) + rng.standard_normal(len(t)) * 0.003).astype(np.float32)


def _write(folder, rows: list[tuple[np.ndarray, str]], name: str = "train.json") -> str:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (wave, label) in enumerate(rows):
        sf.write(folder / f"{i}.wav", wave, SR)
        lines.append(json.dumps({"audio_filepath": f"{i}.wav", "duration": len(wave) / SR, "label": label}))
    (folder / name).write_text("\n".join(lines) + "\n")
    return str(folder / name)


def _config(name: str, manifest: str, labels: list[str], **trainer) -> dict:
    """A shipped config without randomness in the data path, at a learning rate that overfits in tens of steps."""
    cfg = load_named_config(name)
    m = cfg["model"]
    m["labels"] = labels
    m["decoder"]["num_classes"] = len(labels)
    m["spec_augment"] = None
    m["train_ds"].pop("augmentor", None)
    m["preprocessor"]["dither"] = 0.0
    m["optim"] = {"name": "adamw", "lr": 0.01, "weight_decay": 0.0,
                  "sched": {"name": "CosineAnnealing", "warmup_steps": 5, "min_lr": 1e-3}}
    cfg = apply_overrides(cfg, [
        f"model.train_ds.manifest_filepath={manifest}", f"model.validation_ds.manifest_filepath={manifest}",
        "model.train_ds.batch_size=8", "trainer.accelerator=cpu", "trainer.log_every_n_steps=1",
        "+trainer.checkpoint_every_n_steps=0", "+trainer.enable_model_summary=false",
    ])
    cfg["trainer"].update(trainer)
    return cfg


def _metrics(run_dir) -> list[dict]:
    (path,) = run_dir.joinpath("logs", "csv").rglob("metrics.csv")
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def commands(tmp_path_factory):
    rng = np.random.default_rng(0)
    rows = [(_clip(label, rng), label) for label in LABELS for _ in range(2)]
    return _write(tmp_path_factory.mktemp("commands"), rows)


@pytest.mark.slow
def test_matchboxnet_overfits_a_handful_of_clips_and_classify_reads_its_nemo(commands, tmp_path, capsys):
    cfg = _config("matchboxnet_3x1x64", commands, LABELS, max_steps=25, max_epochs=1000,
                  check_val_every_n_epoch=25)
    nemo = train(cfg, out=str(tmp_path / "run"), progress=False)
    rows = _metrics(tmp_path / "run")
    losses = [float(r["train_loss"]) for r in rows if r.get("train_loss")]
    assert len(losses) == 25 and losses[-1] < 0.1 * losses[0], losses[::5]
    acc = [float(r["val_acc"]) for r in rows if r.get("val_acc")]
    assert acc and acc[-1] == 1.0
    model = harken.load(str(nemo))
    assert isinstance(model, SpeechClassifier) and model.labels == LABELS
    assert model.export_config()["target"].endswith("EncDecClassificationModel")
    entries = [json.loads(line) for line in open(commands)]
    folder = commands.rsplit("/", 1)[0]
    capsys.readouterr()
    assert main(["classify", "--model", str(nemo), *(f"{folder}/{e['audio_filepath']}" for e in entries)]) == 0
    printed = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [p[1] for p in printed] == [e["label"] for e in entries]


@pytest.mark.slow
def test_frame_vad_learns_frame_labels(tmp_path):
    """A tone switched on and off; labels at 40 ms (repeated twice onto the 20 ms frames, as NeMo reads them)."""
    rng = np.random.default_rng(1)
    rows = []
    for _ in range(4):
        on = np.zeros(25, dtype=int)  # 1 s in 40 ms cells
        start = int(rng.integers(2, 10))
        on[start:start + int(rng.integers(6, 12))] = 1
        t = np.arange(SR) / SR
        gate = np.repeat(on, SR // 25)
        wave = np.sin(2 * np.pi * 500 * t) * 0.3 * gate + rng.standard_normal(SR) * 0.003
        rows.append((wave.astype(np.float32), " ".join(map(str, on))))
    manifest = _write(tmp_path / "vad", rows)
    cfg = _config("marblenet_3x2x64_20ms", manifest, ["0", "1"], max_steps=30, max_epochs=1000,
                  check_val_every_n_epoch=30)
    cfg["model"]["train_ds"]["batch_size"] = 4
    nemo = train(cfg, out=str(tmp_path / "run"), progress=False)
    f1 = [float(r["val_f1"]) for r in _metrics(tmp_path / "run") if r.get("val_f1")]
    assert f1[-1] > 0.95, f1
    model = harken.load(str(nemo))
    assert isinstance(model, FrameClassifier)
    for wave, label in rows:
        got = model.frame_labels(wave)
        want = [c for c in label.split() for _ in (0, 1)]  # 1 s: 50 valid frames of 20 ms
        assert len(got) == 50 and sum(a == b for a, b in zip(got, want)) >= 47, (got, want)


def test_resume_gives_the_uninterrupted_weights(commands, tmp_path):
    # batch 3 over 8 clips: 3 batches per epoch; checkpoint every 2 steps; crash before step 5 (mid-epoch)
    cfg = _config("matchboxnet_3x1x64", commands, LABELS, max_steps=7, max_epochs=1000,
                  check_val_every_n_epoch=1000, checkpoint_every_n_steps=2)
    cfg["model"]["train_ds"]["batch_size"] = 3
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(cfg, out=str(straight), progress=False)
    with pytest.raises(_Crash):
        train(cfg, out=str(split), progress=False, callbacks=[_CrashAtStep(5)])
    stopped = torch.load(split / "checkpoints" / "last.ckpt", weights_only=True)
    assert stopped["global_step"] == 4 and stopped["harken_sampler"]["batches_consumed"] == 1
    train(cfg, out=str(split), resume=True, progress=False)
    a = torch.load(straight / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(split / "checkpoints" / "last.ckpt", weights_only=True)
    assert b["global_step"] == 7 and b["harken_sampler"] == a["harken_sampler"]
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_family_from_nemo_configs_without_a_class():
    assert model_class(load_named_config("matchboxnet_3x1x64")["model"]) is SpeechClassifier
    assert model_class(load_named_config("marblenet_3x2x64")["model"]) is SpeechClassifier
    assert model_class(load_named_config("marblenet_3x2x64_20ms")["model"]) is FrameClassifier


def test_frame_targets_repeat_coarse_labels_and_extend_the_last():
    labels = torch.tensor([[0, 1, 1, 0], [1, 0, 0, 0]])
    out = frame_targets(labels, torch.tensor([4, 2]), 9, torch.tensor([9, 4]))
    assert out[0].tolist() == [0, 0, 1, 1, 1, 1, 0, 0, 0]  # 40 ms labels on 20 ms frames, one frame over
    assert out[1].tolist() == [1, 1, 0, 0, -100, -100, -100, -100, -100]


def test_metrics_accuracy_and_speech_f1():
    confusion = torch.tensor([[8.0, 2.0], [1.0, 9.0]])  # rows: true, columns: predicted
    m = metrics(confusion, speech=1)
    assert m["acc"] == pytest.approx(17 / 20) and m["f1"] == pytest.approx(18 / 21)
    assert m["error"] == pytest.approx(1 - 18 / 21)
    assert metrics(confusion, None)["error"] == pytest.approx(3 / 20)


@pytest.mark.parametrize("label, message", [(None, "needs a 'label'"), ("maybe", "'maybe' is not one of")])
def test_bad_labels_name_the_manifest_line(commands, tmp_path, label, message):
    folder = tmp_path / "bad"
    manifest = _write(folder, [(np.zeros(SR // 2, np.float32), "yes"), (np.zeros(SR // 2, np.float32), "no")])
    lines = open(manifest).read().splitlines()
    row = json.loads(lines[1])
    row.pop("label") if label is None else row.update(label=label)
    (folder / "train.json").write_text(lines[0] + "\n" + json.dumps(row) + "\n")
    cfg = _config("matchboxnet_3x1x64", manifest, LABELS, max_steps=1)
    with pytest.raises(ManifestError, match=rf"train.json:2: .*{message}"):
        train(cfg, out=str(tmp_path / "run"), progress=False)
