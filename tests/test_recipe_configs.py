"""The shipped recipe's configs build the models its RESULTS.md describes (a typo there would only show
after hours of corpus synthesis)."""

from pathlib import Path

import torch

from harken.core.config import apply_overrides, load_config, resolve
from harken.data.manifest import ManifestEntry, write_manifest
from harken.models.archive import read_archive
from harken.models.ctc_model import ASRModel
from harken.pretrained.catalog import DEFAULT_MODEL
from harken.pretrained.catalog import resolve as resolve_model
from harken.text.train_tokenizer import train_tokenizer

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "harken_en_small"


def _model(name: str, *overrides: str) -> ASRModel:
    return ASRModel.from_config(resolve(apply_overrides(load_config(RECIPE / name), list(overrides)))["model"])


def test_character_config_is_v1s_layout():
    model = _model("config.yaml")
    assert len(model.labels) == 28 and 1.4e6 < sum(p.numel() for p in model.parameters()) < 1.55e6


def _widths(*filters: int) -> list[str]:
    """run.sh's width overrides: one per encoder block, and the decoder's input."""
    return [f"model.encoder.jasper.{i}.filters={f}" for i, f in enumerate(filters)] + [
        f"model.decoder.feat_in={filters[-1]}"
    ]


def _shapes(state_dict: dict, prefix: str = "") -> dict:
    return {k: v.shape for k, v in state_dict.items() if k.startswith(prefix)}


def test_config_with_phase_17_widths_builds_the_shipped_model():
    shipped = read_archive(resolve_model(DEFAULT_MODEL)).state_dict
    model = _model("config.yaml", *_widths(512, 512, 512, 768, 768, 1024))
    assert _shapes(shipped) == _shapes(model.state_dict())


def test_deep_config_is_the_shipped_model_with_one_identity_block(tmp_path):
    """config_deep.yaml (phases 19, 20) takes every shipped tensor with `insert_blocks=[5]` and starts where it is."""
    from harken.training.init_from import initialize_from

    shipped_path = str(resolve_model(DEFAULT_MODEL))
    torch.manual_seed(0)
    deep = _model("config_deep.yaml")
    loaded, skipped = initialize_from(deep, shipped_path, insert_blocks=[5])
    shipped = ASRModel.load(shipped_path).eval()
    assert not skipped and len(loaded) == len(shipped.state_dict())
    assert len(deep.encoder.encoder) == 7 and 7.4e6 < sum(p.numel() for p in deep.parameters()) < 7.6e6
    deep.eval()
    audio, length = torch.randn(1, 32000) * 0.1, torch.tensor([32000])
    with torch.no_grad():
        gap = (deep(audio, length)[0] - shipped(audio, length)[0]).abs().max()
    assert gap < 1e-4, gap


def test_bpe_candidate_takes_v6s_encoder_and_a_1024_piece_tokenizer(tmp_path):
    lines = (RECIPE / "sentences.txt").read_text().splitlines()
    manifest = write_manifest(tmp_path / "text.json", [ManifestEntry("x.wav", 1.0, t) for t in lines if t.strip()])
    train_tokenizer([manifest], tmp_path / "tok", vocab_size=1024)
    model = _model("candidates/quartznet_v6_bpe1024.yaml", f"model.tokenizer.dir={tmp_path / 'tok'}")
    assert len(model.labels) == 1024 and model.blank_id == 1024
    v6 = _model("config.yaml", *_widths(384, 384, 384, 576, 576, 768))  # init_from must find every encoder tensor
    assert _shapes(v6.state_dict(), "encoder.") == _shapes(model.state_dict(), "encoder.")
    text = model.transcribe(torch.zeros(16000))[0]
    assert isinstance(text, str)
