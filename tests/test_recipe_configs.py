"""The shipped recipe's configs build the models its RESULTS.md describes (a typo there would only show
after hours of corpus synthesis)."""

import json
from pathlib import Path

import torch

from harken.core.config import apply_overrides, load_config, resolve
from harken.models.ctc_model import ASRModel
from harken.text.train_tokenizer import train_tokenizer

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "harken_en_small"


def _model(name: str, *overrides: str) -> ASRModel:
    return ASRModel.from_config(resolve(apply_overrides(load_config(RECIPE / name), list(overrides)))["model"])


def test_character_config_is_v1s_layout():
    model = _model("config.yaml")
    assert len(model.labels) == 28 and 1.4e6 < sum(p.numel() for p in model.parameters()) < 1.55e6


def test_bpe_candidate_takes_v6s_encoder_and_a_1024_piece_tokenizer(tmp_path):
    manifest = tmp_path / "text.json"
    lines = (RECIPE / "sentences.txt").read_text().splitlines()
    manifest.write_text("".join(json.dumps({"audio_filepath": "x.wav", "duration": 1.0, "text": t}) + "\n"
                                for t in lines if t.strip()))
    train_tokenizer([manifest], tmp_path / "tok", vocab_size=1024)
    model = _model("candidates/quartznet_v6_bpe1024.yaml", f"model.tokenizer.dir={tmp_path / 'tok'}")
    assert len(model.labels) == 1024 and model.blank_id == 1024
    v6 = _model("config.yaml", *(f"model.encoder.jasper.{i}.filters={w}" for i, w in enumerate([384] * 3 + [576] * 2)),
                "model.encoder.jasper.5.filters=768", "model.decoder.feat_in=768")
    shapes = {k: v.shape for k, v in v6.encoder.state_dict().items()}
    assert shapes == {k: v.shape for k, v in model.encoder.state_dict().items()}
    text = model.transcribe(torch.zeros(16000))[0]
    assert isinstance(text, str)
