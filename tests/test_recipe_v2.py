"""recipes/harken_en_small_v2: run.sh's stages in the order and with the arguments the plan needs (a wrong flag would
only show after an hour of synthesis), its config is the shipped model's architecture and takes every shipped
tensor, and the evaluation scripts work on a tiny set."""

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harken.core.config import apply_overrides, load_config, resolve
from harken.data.manifest import read_manifest, write_manifest
from harken.metrics.evaluate import EvalResult, evaluate
from harken.metrics.wer import ErrorCounts
from harken.models.archive import read_archive
from harken.models.ctc_model import ASRModel
from harken.pretrained.catalog import DEFAULT_MODEL
from harken.pretrained.catalog import resolve as resolve_model
from harken.synth.engines import parse_shares
from harken.training.config_check import check_training_config

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "harken_en_small_v2"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, RECIPE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dry_run(tmp_path: Path, **env: str) -> list[list[str]]:
    """run.sh's commands as DRY_RUN prints them (one argument list per command)."""
    out = subprocess.run(["bash", str(RECIPE / "run.sh"), str(tmp_path / "d"), str(tmp_path / "e")], cwd=ROOT,
                         env={**os.environ, "DRY_RUN": "1", **env}, capture_output=True, text=True, check=True)
    return [shlex.split(line) for line in out.stdout.splitlines()]


def _value(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_dry_run_lists_every_stage_in_order_and_writes_nothing(tmp_path):
    cmds = _dry_run(tmp_path)
    steps = [c[1:3] if c[0] == "harken" else [Path(c[1]).name] for c in cmds]
    assert steps == [["data", "synth"], ["split_test.py"], ["data", "synth"], ["train", str(RECIPE / "config.yaml")],
                     ["data", "synth"], ["data", "synth"], ["data", "synth"], ["make_flite_set.py"],
                     ["select_checkpoint.py"], ["evaluate_v2.py"]]
    assert not (tmp_path / "d").exists() and not (tmp_path / "e").exists() and not (tmp_path / "d_eval").exists()
    for cmd in cmds:  # every recipe file a command names is there
        for arg in cmd:
            value = arg.split("=", 1)[-1]
            if value.endswith((".py", ".txt", ".yaml")) or value.endswith(".nemo") and "/e/" not in value:
                assert (ROOT / value).is_file(), (value, cmd)
    assert not any(c[0] == "cp" for c in cmds)  # shipping needs SHIP=1
    assert _dry_run(tmp_path, STAGE="7", SHIP="1")[0][0] == "cp"


def test_evaluation_sets_say_the_held_out_texts_that_training_avoids(tmp_path):
    espeak, _, corpus, train, pico, kokoro, piper, flite, *_ = _dry_run(tmp_path)
    held_out = str(tmp_path / "d_eval" / "espeak" / "test_manifest.json")
    assert _value(corpus, "--avoid-texts") == held_out and _value(flite, "--manifest") == held_out
    shares = parse_shares(_value(corpus, "--engines"))
    assert abs(sum(shares.values()) - 1) < 1e-9 and "piper" not in shares  # Piper joe: never trained on
    assert {"espeak", "hibari", "pico", "kokoro"} <= set(shares)
    for cmd, engine in ((pico, "pico"), (kokoro, "kokoro"), (piper, "piper")):
        assert _value(cmd, "--engines") == engine and _value(cmd, "--train") == _value(cmd, "--val") == "0"
        for flag in ("--seed", "--text-file", "--sentence-share"):  # same plan, so the same texts as stage 1
            assert _value(cmd, flag) == _value(espeak, flag), (engine, flag)
    assert _value(espeak, "--seed") == "7" and _value(espeak, "--test") == "1200"  # v1's test set


def test_config_with_run_sh_overrides_is_the_shipped_model_and_takes_all_its_weights(tmp_path):
    from harken.training.init_from import initialize_from

    train = _dry_run(tmp_path, STAGE="3", STOP="3")[0]
    overrides = [a for a in train[3:] if "=" in a and not a.startswith("--")]
    cfg = resolve(apply_overrides(load_config(RECIPE / "config.yaml"), overrides))
    check_training_config(cfg)
    shipped_path = ROOT / cfg["init_from"]
    assert shipped_path.resolve() == Path(resolve_model(DEFAULT_MODEL)).resolve()
    model = ASRModel.from_config(cfg["model"])
    shipped = read_archive(shipped_path).state_dict
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in shipped.items()}
    loaded, skipped = initialize_from(model, str(shipped_path))
    assert not skipped and len(loaded) == len(shipped)


def test_wer_by_kind_and_looping_outputs():
    evaluate_v2 = _load("evaluate_v2")
    r = EvalResult("m", 3, 0.0)
    r.predictions = [{"text": "a b c d", "pred_text": "a b c d", "kind": "sentence"},
                     {"text": "yes", "pred_text": "no no no no", "kind": "command"},
                     {"text": "b o b", "pred_text": "b o", "kind": "spelled"}]
    r.utterance_words = [ErrorCounts(0, 0, 0, 4), ErrorCounts(1, 0, 3, 1), ErrorCounts(0, 1, 0, 3)]
    assert evaluate_v2.wer_of_kind(r, sentences=True) == "0.0"
    assert evaluate_v2.wer_of_kind(r, sentences=False) == "125.0"  # (4 + 1) errors / (1 + 3) words
    assert evaluate_v2.looping(r) == 1


def test_evaluate_v2_table_on_a_tiny_set(tmp_path, espeak_corpus, monkeypatch, capsys):
    evaluate_v2 = _load("evaluate_v2")
    sets = tmp_path / "sets"
    rows = read_manifest(espeak_corpus.manifests["test"])  # absolute paths
    write_manifest(sets / "espeak" / "test_spelled.json", rows)
    write_manifest(sets / "piper" / "test_manifest.json", rows[::-1])
    out = tmp_path / "eval.md"
    model = str(resolve_model(DEFAULT_MODEL))
    argv = ["evaluate_v2.py", "--model", model, "--baseline", model, "--sets", str(sets), "--n", "3",
            "--out", str(out), "--threads", "1"]
    monkeypatch.setattr(sys, "argv", argv)
    evaluate_v2.main()
    assert "pico/test_manifest.json not made" in capsys.readouterr().err
    table = [line for line in out.read_text().splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [line.split(" | ")[0] for line in table] == ["| espeak-ng held-out voices, spelled",
                                                        "| piper joe (synthesizer never trained on)"]
    for line in table:
        cells = line.split(" | ")
        part = Path(cells[-1].split("--manifest ")[1].rstrip("` |"))  # the row's own `harken eval` command
        assert len(read_manifest(part)) == 3 and cells[1] == "3"
        assert cells[2] == f"{100 * evaluate(ASRModel.load(model), part).wer:.1f}"
        assert cells[9] == "+0.0 [+0.0, +0.0]"  # a model against itself
    monkeypatch.setattr(sys, "argv", argv[:-2])  # without --threads: --out exists, no --overwrite
    with pytest.raises(SystemExit, match="exists"):
        evaluate_v2.main()


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")
def test_flite_set_cycles_voices_and_keeps_what_it_made(tmp_path, espeak_corpus):
    make_flite_set = _load("make_flite_set")
    manifest = make_flite_set.make(Path(espeak_corpus.manifests["test"]), 2, tmp_path / "flite", shutil.which("flite"))
    rows = read_manifest(manifest)
    assert [r.extra["voice"] for r in rows] == ["flite:slt", "flite:rms"]
    assert [r.text for r in rows] == [r.text for r in read_manifest(espeak_corpus.manifests["test"])[:2]]
    assert all(r.duration > 0.3 for r in rows)
    first = Path(rows[0].audio_filepath).stat().st_mtime_ns
    make_flite_set.make(Path(espeak_corpus.manifests["test"]), 2, tmp_path / "flite", shutil.which("flite"))
    assert Path(rows[0].audio_filepath).stat().st_mtime_ns == first


def test_phase_b_dry_run_and_its_choice_rule(tmp_path):
    out = subprocess.run(["bash", str(RECIPE / "phase_b.sh"), str(tmp_path / "d"), str(tmp_path / "e")], cwd=ROOT,
                         env={**os.environ, "DRY_RUN": "1"}, capture_output=True, text=True, check=True)
    cmds = [shlex.split(line) for line in out.stdout.splitlines()]
    steps = [c[1:3] if c[0] == "harken" else [Path(c[1]).name] for c in cmds]
    assert steps == [["data", "synth"], ["split_test.py"], ["data", "synth"], ["choose_mix.py"], ["evaluate_v2.py"],
                     ["lm", "build"], ["tune_lm.py"], ["evaluate_v2.py"], ["evaluate_v2.py"]]
    lm_build = cmds[5]  # the LM never sees an evaluation or development text
    excluded = [lm_build[i + 1] for i, a in enumerate(lm_build) if a == "--exclude"]
    assert excluded == [str(tmp_path / "d_eval" / "espeak" / "test_manifest.json"),
                        str(tmp_path / "d_dev" / "espeak" / "test_manifest.json"),
                        str(tmp_path / "d_dev" / "piper" / "test_manifest.json")]
    assert all("_dev/" in m for m in cmds[6][cmds[6].index("--manifests") + 1:cmds[6].index("--out")])
    dev_sets = [c[3] for c in cmds if c[:3] == ["harken", "data", "synth"]]
    assert all("_dev/" in d for d in dev_sets)  # development sets are not the evaluation sets ...
    for synth in (c for c in cmds if c[:3] == ["harken", "data", "synth"]):  # ... and say none of their texts
        assert _value(synth, "--avoid-texts") == str(tmp_path / "d_eval" / "espeak" / "test_manifest.json")
    assert not (tmp_path / "d_dev").exists() and not any(c[0] == "cp" for c in cmds)

    rule = _load("choose_mix").allowed_and_chosen
    rows = [(0.0, [1.5, 23.3], 95.7), (0.5, [2.0, 23.3], 91.6), (0.7, [2.5, 23.4], 88.8), (1.0, [4.1, 27.8], 84.6)]
    assert rule(rows) == ([0.0, 0.5, 0.7], 0.7)  # the best unseen-voice WER within 1 point of v10 on espeak-ng
    assert rule(rows[:2] + [(0.6, [2.0, 23.3], 91.6)]) == ([0.0, 0.5, 0.6], 0.5)  # ties: the smaller alpha
    with pytest.raises(ValueError, match="include alpha 0"):
        rule(rows[1:])
