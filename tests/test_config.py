import pytest

from harken.configs import available, load_named_config
from harken.core.config import ConfigError, apply_overrides, dump_config, load_config, resolve


def test_shipped_configs_build_models():
    from harken.models.ctc_model import ASRModel

    assert {"quick", "quartznet_5x5", "quartznet_15x5", "jasper_10x5dr"} <= set(available())
    sizes = {}
    for name in ["quick", "quartznet_5x5", "quartznet_15x5", "jasper_10x5dr"]:
        model = ASRModel.from_config(load_named_config(name)["model"])
        sizes[name] = sum(p.numel() for p in model.parameters())
    # published sizes: QuartzNet 5x5 6.7M, 15x5 18.9M, Jasper 10x5dr ~330M
    assert 6.5e6 < sizes["quartznet_5x5"] < 6.9e6
    assert 18.7e6 < sizes["quartznet_15x5"] < 19.1e6
    assert 3.0e8 < sizes["jasper_10x5dr"] < 3.5e8
    assert sizes["quick"] < 1e6


def test_overrides_and_interpolation():
    cfg = load_named_config("quick")
    out = apply_overrides(cfg, ["model.optim.lr=0.001", "trainer.max_epochs=3", "+model.new_key=[1, 2]",
                                "model.sample_rate=8000"])
    assert out["model"]["optim"]["lr"] == 0.001 and out["trainer"]["max_epochs"] == 3
    assert out["model"]["new_key"] == [1, 2]
    assert cfg["model"]["optim"]["lr"] != 0.001  # original untouched
    r = resolve(out)
    assert r["model"]["preprocessor"]["sample_rate"] == 8000
    assert r["model"]["decoder"]["vocabulary"] == r["model"]["labels"]
    with pytest.raises(ConfigError, match="no key model.optim.lrr"):
        apply_overrides(cfg, ["model.optim.lrr=1"])
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides(cfg, ["model.optim.lr"])
    assert "new_key" not in apply_overrides(out, ["~model.new_key"])["model"]


def test_bad_yaml_names_file_and_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("model:\n  a: 1\n  b: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_config(p)
    with pytest.raises(ConfigError, match="not a shipped config"):
        load_named_config("no_such_config")
    with pytest.raises(ConfigError, match="no key model.nothing"):
        resolve({"model": {"x": "${model.nothing}"}})


def test_dump_quotes_yaml11_booleans():
    text = dump_config({"labels": ["n", "y", "a"]})
    assert "'n'" in text and "'y'" in text


def test_cli_overrides_may_follow_options_and_unknown_options_still_fail(tmp_path, capsys):
    import pytest

    from harken.cli.main import main as cli

    config = tmp_path / "missing.yaml"
    # parsed (overrides after --out are overrides); it then fails on the missing config file, not on argparse
    assert cli(["train", str(config), "--out", str(tmp_path / "run"), "model.optim.lr=0.1"]) == 1
    assert "missing.yaml" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["train", str(config), "--out", str(tmp_path / "run"), "--bogus"])
