"""Training end to end: overfitting, resume, DDP, and the CLI. Small, real runs on espeak-ng audio."""

import subprocess
import sys

import lightning.pytorch as pl
import pytest
import torch

import harken
from harken.metrics.evaluate import evaluate
from harken.training.run import train
from tests.conftest import tiny_config


def test_tiny_model_overfits_ten_utterances(espeak_corpus, tmp_path):
    train_manifest = espeak_corpus.manifests["train"]
    cfg = tiny_config(train_manifest, max_steps=1000, max_epochs=1000, check_val_every_n_epoch=100)
    nemo = train(cfg, out=str(tmp_path / "run"), progress=False)
    model = harken.load(str(nemo))
    result = evaluate(model, train_manifest)
    assert result.utterances == 10
    assert result.wer == 0.0, result.predictions
    assert [e.reference_length for e in result.utterance_words] == [len(r["text"].split()) for r in result.predictions]
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").exists()
    assert list((tmp_path / "run" / "logs" / "csv").rglob("metrics.csv"))
    # training checkpoints load as models too; model.nemo holds the best one's weights
    from_ckpt = harken.load(str(tmp_path / "run" / "checkpoints" / "best.ckpt"))
    audio = torch.randn(1, 16000) * 0.1
    with torch.no_grad():
        assert torch.equal(from_ckpt(audio, torch.tensor([16000]))[0], model(audio, torch.tensor([16000]))[0])


def _checkpoint(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


class _Crash(Exception):
    pass


class _CrashAtStep(pl.Callback):
    """Kills the run before step `step + 1`, as a power cut would: no end-of-training checkpoint."""

    def __init__(self, step):
        self.step = step

    def on_train_batch_start(self, trainer, *args):
        if trainer.global_step == self.step:
            raise _Crash


def test_resume_continues_step_count_and_sampler_position(espeak_corpus, tmp_path):
    # batch 3 over 10 utterances -> 4 batches per epoch; a checkpoint every 3 steps; crash after step 6,
    # which is batch 2 of epoch 1
    cfg = tiny_config(espeak_corpus.manifests["train"], max_epochs=100, checkpoint_every_n_steps=3)
    cfg["model"]["train_ds"]["batch_size"] = 3
    straight, split = tmp_path / "straight", tmp_path / "split"
    train({**cfg, "trainer": {**cfg["trainer"], "max_steps": 9, "keep_checkpoint_every_n_steps": 3}},
          out=str(straight), progress=False)
    kept = sorted(p.name for p in (straight / "checkpoints").glob("step_*.ckpt"))
    assert kept == ["step_3.ckpt", "step_6.ckpt", "step_9.ckpt"]  # kept for averaging, never overwritten
    assert torch.load(straight / "checkpoints" / "step_6.ckpt", weights_only=True)["global_step"] == 6
    with pytest.raises(_Crash):
        train({**cfg, "trainer": {**cfg["trainer"], "max_steps": 9}}, out=str(split), progress=False,
              callbacks=[_CrashAtStep(6)])
    stopped = _checkpoint(split)
    assert stopped["global_step"] == 6
    assert stopped["harken_sampler"]["epoch"] == 1 and stopped["harken_sampler"]["batches_consumed"] == 2
    train({**cfg, "trainer": {**cfg["trainer"], "max_steps": 9}}, out=str(split), resume=True, progress=False)
    a, b = _checkpoint(straight), _checkpoint(split)
    assert b["global_step"] == 9
    assert b["harken_sampler"] == a["harken_sampler"]
    # same batches in the same order after the resume -> the same weights as the uninterrupted run
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_two_process_ddp_on_cpu_via_cli(espeak_corpus, tmp_path):
    from harken.core.config import dump_config

    cfg = tiny_config(espeak_corpus.manifests["train"], devices=2, accelerator="cpu", strategy="ddp",
                      max_steps=3, max_epochs=10, check_val_every_n_epoch=1)
    cfg["model"]["train_ds"]["batch_size"] = 2
    config = tmp_path / "ddp.yaml"
    config.write_text(dump_config(cfg))
    run = subprocess.run(
        [sys.executable, "-m", "harken", "train", str(config), "--out", str(tmp_path / "ddp"), "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    ckpt = _checkpoint(tmp_path / "ddp")
    assert ckpt["global_step"] == 3
    assert ckpt["harken_sampler"]["world_size"] == 2
    assert (tmp_path / "ddp" / "model.nemo").exists()
    harken.load(str(tmp_path / "ddp" / "model.nemo"))


def test_cli_eval_and_transcribe(espeak_corpus, tmp_path, nemo_fixture):
    # any character model works for the plumbing; NeMo's tiny fixture has the same labels
    model = str(nemo_fixture("quartznet_tiny") / "model.nemo")
    test_manifest = espeak_corpus.manifests["test"]
    preds = tmp_path / "preds.json"
    run = subprocess.run([sys.executable, "-m", "harken", "eval", "--model", model, "--manifest", str(test_manifest),
                          "--output", str(preds)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "WER" in run.stdout and "CER" in run.stdout
    from harken.data.manifest import read_manifest

    rows = read_manifest(preds)
    assert len(rows) == len(read_manifest(test_manifest)) and all("pred_text" in r.extra for r in rows)
    out = tmp_path / "out.tsv"
    wavs = [r.audio_filepath for r in rows[:2]]
    run = subprocess.run([sys.executable, "-m", "harken", "transcribe", *wavs, "--model", model, "--output", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = out.read_text().splitlines()
    assert [line.split("\t")[0] for line in lines] == wavs
    run = subprocess.run([sys.executable, "-m", "harken", "transcribe", str(tmp_path / "missing.wav"),
                          "--model", model], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "missing.wav: audio file not found" in run.stderr
