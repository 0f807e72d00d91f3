"""Archives harken writes are laid out as NeMo writes them (NeMo itself is checked by bench/nemo_roundtrip.py)."""

import tarfile

import pytest
import torch

import harken
from harken.configs import load_named_config
from harken.models.archive import read_archive
from harken.models.ctc_model import ASRModel

FAMILIES = ["quartznet_tiny", "jasper_dr", "quartznet_se", "citrinet_bpe", "conformer_ctc_bpe",
            "fastconformer_ctc_bpe", "matchboxnet", "marblenet_vad", "marblenet_frame_vad"]


def _targets(cfg):
    return [v["_target_"] for v in cfg.values() if isinstance(v, dict) and "_target_" in v]


@pytest.mark.parametrize("name", FAMILIES)
def test_resaved_fixture_has_nemo_layout(nemo_fixture, tmp_path, name):
    source = nemo_fixture(name) / "model.nemo"
    out = tmp_path / "x.nemo"
    harken.load(source).save(out)
    assert out.read_bytes()[:2] != b"\x1f\x8b"  # an uncompressed tar, as NeMo writes
    with tarfile.open(out, "r:") as tar:  # members under ./ as NeMo names them
        names = [m.name for m in tar.getmembers() if m.isfile()]
    assert {"./model_config.yaml", "./model_weights.ckpt"} <= set(names)
    original, copy = read_archive(source), read_archive(out)
    assert copy.config["target"] == original.config["target"]
    assert _targets(copy.config) == _targets(original.config)
    assert sorted(copy.state_dict) == sorted(original.state_dict)
    assert set(original.artifacts) <= set(copy.artifacts)


@pytest.mark.parametrize("name", FAMILIES)
def test_half_weights_archive_loads_back_for_every_family(nemo_fixture, tmp_path, name):
    source = nemo_fixture(name) / "model.nemo"
    harken.load(source).save(tmp_path / "half.nemo", half=True)
    stored = read_archive(tmp_path / "half.nemo").state_dict
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    original = harken.load(source).state_dict()
    for key, value in harken.load(tmp_path / "half.nemo").state_dict().items():
        assert value.dtype == original[key].dtype, key  # back in the model's own precision
        if value.is_floating_point():
            torch.testing.assert_close(value, original[key], rtol=1e-3, atol=1e-4, msg=key)


@pytest.mark.parametrize("config", ["quick", "quartznet_5x5", "quartznet_15x5", "jasper_10x5dr"])
def test_models_built_by_harken_name_nemo_classes(tmp_path, config):
    model = ASRModel.from_config(load_named_config(config))
    model.save(tmp_path / "m.nemo")
    cfg = read_archive(tmp_path / "m.nemo").config
    assert cfg["target"] == "nemo.collections.asr.models.ctc_models.EncDecCTCModel"
    assert all(t.startswith("nemo.collections.asr.modules.") for t in _targets(cfg))
    assert cfg["decoder"]["num_classes"] == len(cfg["labels"]) == 28
    assert "${" not in str(cfg)  # interpolations resolved: NeMo sees plain values
