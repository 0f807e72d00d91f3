import os
from pathlib import Path

import pytest

os.environ.setdefault("HARKEN_TYPE_CHECK", "1")  # type checks on in tests (off by default at run time)

import torch  # noqa: E402

import harken.audio.mel as _mel  # noqa: E402
from harken.core.typed_module import set_type_checking  # noqa: E402

set_type_checking(True)
torch.set_num_threads(2)

DATA = Path(__file__).parent / "data"
NEMO = DATA / "nemo"


@pytest.fixture
def nemo_fixture():
    """Path to a copied NeMo 3.0 fixture folder, e.g. nemo_fixture('quartznet_tiny')."""
    return lambda name: NEMO / name


@pytest.fixture(scope="session")
def espeak_corpus(tmp_path_factory):
    """A small corpus spoken by espeak-ng: 10 train, 4 val, 4 test utterances (CorpusInfo)."""
    from harken.synth.corpus import make_corpus

    return make_corpus(tmp_path_factory.mktemp("corpus"), n_train=10, n_val=4, n_test=4, seed=1, jobs=2,
                       progress=False)


def tiny_config(train_manifest, val_manifest=None, **trainer) -> dict:
    """The quick config shrunk to a model that trains in seconds, without randomness in the data path
    (no SpecAugment, dither or waveform augmentation)."""
    from harken.configs import load_named_config
    from harken.core.config import apply_overrides

    cfg = load_named_config("quick")
    blocks = cfg["model"]["encoder"]["jasper"]
    cfg["model"]["encoder"]["jasper"] = [
        {**blocks[0], "filters": 64},
        {**blocks[1], "filters": 64, "repeat": 1},
        {**blocks[-1], "filters": 96},
    ]
    cfg["model"]["decoder"]["feat_in"] = 96
    cfg["model"]["spec_augment"] = None
    cfg["model"]["train_ds"].pop("augmentor", None)
    cfg["model"]["preprocessor"]["dither"] = 0.0
    cfg["model"]["optim"] = {"name": "adamw", "lr": 0.02, "weight_decay": 0.0,
                             "sched": {"name": "CosineAnnealing", "warmup_steps": 10, "min_lr": 1e-4}}
    cfg = apply_overrides(cfg, [
        f"model.train_ds.manifest_filepath={train_manifest}",
        f"model.validation_ds.manifest_filepath={val_manifest or train_manifest}",
        "model.train_ds.batch_size=10", "trainer.check_val_every_n_epoch=1000", "trainer.checkpoint_every_n_steps=0",
        "trainer.log_every_n_steps=1", "+trainer.enable_model_summary=false",
    ])
    cfg["trainer"].update(trainer)
    return cfg


@pytest.fixture
def frozen_normalisation(monkeypatch):
    """Every front-end call normalises with the per-feature mean and std of the first call (the whole file):
    then chunked decoding must give exactly the whole file's frames, so any seam bug shows as a difference."""
    stats = {}

    def frozen(x, lengths, kind):
        if not stats:
            mask = _mel.valid_mask(lengths, x.shape[2])[:, None]
            n = mask.sum(-1)
            stats["mean"] = torch.where(mask, x, 0.0).sum(-1) / n
            var = torch.where(mask, x - stats["mean"][..., None], 0.0).pow(2).sum(-1) / (n - 1.0)
            stats["std"] = var.sqrt() + _mel.NORM_EPS
        return (x - stats["mean"][..., None]) / stats["std"][..., None]

    monkeypatch.setattr(_mel, "normalize_batch", frozen)
    return stats
