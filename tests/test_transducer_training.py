"""Training transducers with `harken train`: TDT and RNNT overfit ten espeak-ng utterances, a run resumes,
hybrids add the CTC loss, chunking changes nothing, and the saved model.nemo loads and transcribes.

Figures on 2 shared CPU cores (unloaded), seeds 0-2: TDT reaches WER 0 by step 40-60 (80 steps run, ~9 s);
RNNT (FastEmit 0.01) by step 80-100 (150 steps run, ~14 s). Without FastEmit the RNNT loss gets as low,
but greedy decoding of such a young model can stall at a node whose blank probability stays above 1/2 on
every frame while the next label's mass is spread over many frames (WER 0.09 after 200 steps, seed 0);
FastEmit's push towards early emission makes the alignment peaky sooner.
"""

from __future__ import annotations

import csv

import pytest
import torch

import harken
from harken.core.config import resolve
from harken.data.manifest import read_manifest
from harken.metrics.evaluate import evaluate
from harken.models.transducer_model import TransducerModel
from harken.training.run import build_task, model_class, train
from harken.training.transducer_task import TransducerObjective
from tests.test_training import _Crash, _CrashAtStep


def tiny_transducer_config(train_manifest, kind: str = "tdt", **trainer) -> dict:
    """The shipped tiny FastConformer-TDT (or its RNNT/hybrid variant) without randomness in the data path
    and without dropout, at a learning rate that overfits ten utterances in tens of steps."""
    from harken.configs import load_named_config
    from harken.core.config import apply_overrides

    cfg = load_named_config("fastconformer_tdt_tiny")
    m = cfg["model"]
    m["spec_augment"] = None
    m["preprocessor"]["dither"] = 0.0
    for key in ("dropout", "dropout_pre_encoder", "dropout_att"):
        m["encoder"][key] = 0.0
    m["decoder"]["prednet"]["dropout"] = 0.0
    m["joint"]["jointnet"]["dropout"] = 0.0
    m["optim"] = {"name": "adamw", "lr": 0.005, "weight_decay": 0.0,
                  "sched": {"name": "CosineAnnealing", "warmup_steps": 10, "min_lr": 1e-3}}
    if kind in ("rnnt", "hybrid_rnnt"):
        m["loss"] = {"loss_name": "default", "warprnnt_numba_kwargs": {"fastemit_lambda": 0.01, "clamp": -1.0}}
        m["decoding"] = {"strategy": "greedy_batch", "greedy": {"max_symbols": 10}}
        m["joint"]["num_extra_outputs"] = 0
    if kind.startswith("hybrid"):
        m["aux_ctc"] = {"ctc_loss_weight": 0.3, "ctc_reduction": "mean_batch",
                        "decoder": {"_target_": "nemo.collections.asr.modules.ConvASRDecoder", "feat_in": 64,
                                    "num_classes": 28, "vocabulary": "${model.labels}"},
                        "decoding": {"strategy": "greedy"}}
    cfg = apply_overrides(cfg, [
        f"model.train_ds.manifest_filepath={train_manifest}", f"model.validation_ds.manifest_filepath={train_manifest}",
        "model.train_ds.batch_size=10", "trainer.check_val_every_n_epoch=1000", "trainer.checkpoint_every_n_steps=0",
        "trainer.log_every_n_steps=1", "trainer.max_epochs=1000", "+trainer.enable_model_summary=false",
    ])
    cfg["trainer"].update(trainer)
    return cfg


def _metrics(run_dir) -> list[dict]:
    (path,) = run_dir.joinpath("logs", "csv").rglob("metrics.csv")
    with path.open() as f:
        return list(csv.DictReader(f))


def _train_losses(run_dir) -> list[float]:
    return [float(r["train_loss"]) for r in _metrics(run_dir) if r.get("train_loss")]


@pytest.mark.slow
@pytest.mark.parametrize("kind, steps", [("tdt", 80), ("rnnt", 150)])
def test_transducer_overfits_ten_utterances(espeak_corpus, tmp_path, kind, steps):
    manifest = espeak_corpus.manifests["train"]
    cfg = tiny_transducer_config(manifest, kind, max_steps=steps, check_val_every_n_epoch=steps // 2)
    nemo = train(cfg, out=str(tmp_path / "run"), progress=False)
    losses = _train_losses(tmp_path / "run")
    assert len(losses) == steps
    assert min(losses[-5:]) < 0.1 * losses[0], losses[::10]  # per-token loss: ~3 -> ~0.01-0.05
    model = harken.load(str(nemo))
    assert isinstance(model, TransducerModel) and model.model_type == kind
    result = evaluate(model, manifest)
    assert result.utterances == 10
    assert result.wer == 0.0, result.predictions
    first = result.predictions[0]
    assert model.transcribe([first["audio_filepath"]]) == [first["text"]]
    val_wer = [float(r["val_wer"]) for r in _metrics(tmp_path / "run") if r.get("val_wer")]
    assert val_wer and val_wer[-1] == 0.0
    from_ckpt = harken.load(str(tmp_path / "run" / "checkpoints" / "best.ckpt"))
    assert isinstance(from_ckpt, TransducerModel)


@pytest.mark.slow
def test_transducer_resume_gives_the_uninterrupted_weights(espeak_corpus, tmp_path):
    # batch 5 over 10 utterances: 2 batches per epoch; checkpoint every 3 steps; crash before step 5
    cfg = tiny_transducer_config(espeak_corpus.manifests["train"], "tdt", max_steps=6, checkpoint_every_n_steps=3)
    cfg["model"]["train_ds"]["batch_size"] = 5
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(cfg, out=str(straight), progress=False)
    with pytest.raises(_Crash):
        train(cfg, out=str(split), progress=False, callbacks=[_CrashAtStep(4)])
    stopped = torch.load(split / "checkpoints" / "last.ckpt", weights_only=True)
    assert stopped["global_step"] == 3 and stopped["harken_sampler"]["batches_consumed"] == 1
    nemo = train(cfg, out=str(split), resume=True, progress=False)
    a = torch.load(straight / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(split / "checkpoints" / "last.ckpt", weights_only=True)
    assert b["global_step"] == 6 and b["harken_sampler"] == a["harken_sampler"]
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=1e-5, atol=1e-6, msg=key)
    wav = read_manifest(espeak_corpus.manifests["train"])[0].audio_filepath
    assert isinstance(harken.load(str(nemo)).transcribe([wav])[0], str)


@pytest.mark.slow
def test_hybrid_trains_both_heads(espeak_corpus, tmp_path):
    cfg = tiny_transducer_config(espeak_corpus.manifests["train"], "hybrid_tdt", max_steps=3)
    nemo = train(cfg, out=str(tmp_path / "run"), progress=False)
    rows = [r for r in _metrics(tmp_path / "run") if r.get("train_loss")]
    for r in rows:  # (1 - w) x transducer + w x CTC, w = 0.3
        want = 0.7 * float(r["train_transducer_loss"]) + 0.3 * float(r["train_ctc_loss"])
        assert float(r["train_loss"]) == pytest.approx(want, rel=1e-5)
    model = harken.load(str(nemo))
    assert model.ctc_decoder is not None and model.model_type == "tdt"
    assert model.export_config()["target"].endswith("EncDecHybridRNNTCTCModel")


def _random_batch(model, rows=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    audio_len = torch.tensor([16000, 12000, 9000, 15000, 6000][:rows])
    audio = torch.randn(rows, 16000, generator=g) * 0.1
    token_len = torch.tensor([7, 3, 5, 1, 4][:rows])
    tokens = torch.randint(0, model.tokenizer.vocab_size, (rows, 7), generator=g)
    return audio, audio_len, tokens, token_len


@pytest.mark.parametrize("kind", ["tdt", "hybrid_rnnt"])
def test_chunked_loss_equals_whole_batch(tmp_path, kind):
    cfg = resolve(tiny_transducer_config(tmp_path / "unused.json", kind))["model"]
    model = model_class(cfg).from_config(cfg)
    batch = _random_batch(model)
    whole = TransducerObjective.from_model(model)
    chunked = TransducerObjective(**{**whole.__dict__, "chunk_rows": 2})
    assert whole.chunk_rows == 16 and whole.ctc_weight == (0.3 if kind.startswith("hybrid") else 0.0)
    results = []
    for objective in (whole, chunked):
        model.zero_grad()
        loss = objective.loss(model, batch)["loss"]
        loss.backward()
        results.append((loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}))
    torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-5, atol=1e-6)
    assert results[0][1].keys() == results[1][1].keys()
    for key, grad in results[0][1].items():
        torch.testing.assert_close(results[1][1][key], grad, rtol=1e-4, atol=1e-6, msg=key)


def test_family_and_objective_come_from_the_config(tmp_path):
    cfg = resolve(tiny_transducer_config(tmp_path / "unused.json", "tdt"))["model"]
    assert model_class(cfg) is TransducerModel  # no target: a joint section means a transducer
    task = build_task(model_class(cfg).from_config(cfg))
    assert task.objective.kind == "tdt" and task.objective.sigma == 0.02 and task.objective.durations == (0, 1, 2, 3, 4)
    assert task.objective.reduction == "mean_volume"
    assert model_class({"target": "nemo.collections.asr.models.EncDecClassificationModel"}).__name__ == \
        "SpeechClassifier"  # classifiers train too (tests/test_classifier_training.py)
    with pytest.raises(ValueError, match="EncDecMultiTaskModel' is not supported"):
        model_class({"target": "nemo.collections.asr.models.EncDecMultiTaskModel"})
    wrong = {**cfg, "loss": {"loss_name": "default"}}  # an RNNT loss for a TDT model
    with pytest.raises(ValueError, match="make them agree"):
        TransducerObjective.from_model(TransducerModel(wrong))
