"""Bad input to train, vad, classify, lm, tokenizer and the data writers (issue 34), as a table.

Each case builds its inputs in a fresh folder and runs the CLI in-process under an alarm: it must exit with
the expected status, say the expected words on stderr, print no traceback and leave every file that was
there as it was (a refused run folder, checkpoint, manifest or audio included). The tests after the table
check that what is not refused still works: --overwrite, --resume, skipped items' neighbours, and so on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from harken.cli.main import main as cli
from harken.core.config import dump_config

NEMO = Path(__file__).parent / "data" / "nemo"
TINY = NEMO / "quartznet_tiny" / "model.nemo"
SPEECH = NEMO / "ctc_timestamps" / "utt1.wav"
VAD = NEMO / "marblenet_vad" / "model.nemo"
CLASSIFIER = NEMO / "matchboxnet" / "model.nemo"


# ------------------------------------------------------------------ inputs
def _w(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _good(d: Path, name: str = "good.wav") -> Path:
    return Path(shutil.copy(SPEECH, d / name))


def _manifest(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _row(audio: str, text: str = "the cat") -> dict:
    return {"audio_filepath": audio, "duration": 1.5, "text": text}


def _mixed(d: Path) -> Path:
    """A manifest with a good row, an unreadable one and a good one again."""
    _good(d)
    _w(d / "bad.wav", b"RIFF")
    return _manifest(d / "m.json", [_row("good.wav"), _row("bad.wav"), _row("good.wav")])


def _holding(folder: Path, name: str = ".keep") -> Path:
    """`folder` (made) with a file `name` in it holding b"mine"; returns that file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    return _w(folder / name, b"mine")


def _fifo(d: Path, name: str) -> Path:
    os.mkfifo(d / name)
    return d / name


def tiny_yaml(d: Path, **trainer) -> Path:
    """A config for the tiny model on one utterance, one step: `c.yaml` in `d` (with good.wav and m.json)."""
    from tests.conftest import tiny_config

    _good(d)
    m = _manifest(d / "m.json", [_row("good.wav")])
    cfg = tiny_config(str(m), max_steps=1, max_epochs=1, **trainer)
    path = d / "c.yaml"
    path.write_text(dump_config(cfg))
    return path


def _train(d: Path, *extra: str) -> list[str]:
    return ["train", str(tiny_yaml(d)), "--out", str(d / "run"), "--no-progress", *extra]


def _edited(d: Path, old: str, new: str) -> list[str]:
    """_train with one line of c.yaml changed."""
    argv = _train(d)
    text = (d / "c.yaml").read_text()
    assert old in text
    (d / "c.yaml").write_text(text.replace(old, new, 1))
    return argv


def _latin1_config(d: Path) -> list[str]:
    argv = _train(d)
    with open(d / "c.yaml", "ab") as f:
        f.write(b"# caf\xe9\n")
    return argv


def _old_run(d: Path, ckpt: bytes = b"old weights", best: bytes = b"old best") -> Path:
    """A run folder as harken leaves it; its files' bytes stand for a finished run."""
    run = d / "run"
    (run / "checkpoints").mkdir(parents=True)
    for name, data in (("checkpoints/last.ckpt", ckpt), ("checkpoints/best.ckpt", best),
                       ("config.yaml", b"old: config\n"), ("model.nemo", b"old model")):
        _w(run / name, data)
    return run


def _resume_from(d: Path, ckpt: bytes | None, best: bytes | None = None) -> list[str]:
    argv = _train(d, "--resume")
    if ckpt is not None:
        _old_run(d, ckpt, best or ckpt)
    return argv


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, bytes]:
    """Real last.ckpt files: of the tiny config, and of one whose first block is narrower."""
    out = {}
    for name, extra in (("good", []), ("other", ["model.encoder.jasper.0.filters=32"])):
        d = tmp_path_factory.mktemp(name)
        assert cli(_train(d, *extra)) == 0
        out[name] = (d / "run" / "checkpoints" / "last.ckpt").read_bytes()
    return out


# ------------------------------------------------------------------ the table
@dataclass
class Case:
    name: str
    build: Callable[..., list[str]]  # (folder[, checkpoints]) -> argv
    status: int
    says: tuple[str, ...]  # words stderr must hold; "{d}" stands for the case's folder
    needs_checkpoints: bool = False


def _lm(d: Path, *argv: str) -> list[str]:
    return ["lm", "build", *argv]


def _latin1_text(d: Path) -> Path:
    return _w(d / "t.txt", b"the cat sat.\ncaf\xe9 au lait\n")


def _latin1_manifest(d: Path) -> Path:
    return _w(d / "m.json", b'{"audio_filepath": "a.wav", "duration": 1, "text": "caf\xe9"}\n')


def _texts(d: Path) -> Path:
    return _manifest(d / "m.json", [_row("a.wav", "the cat sat on the mat")] * 3)


def _long_nan(d: Path) -> list[str]:
    """24 s of noise with one NaN at 15 s: longer than twice --chunk-seconds, so read in blocks."""
    x = np.random.default_rng(0).normal(0, 0.05, 16000 * 24).astype(np.float32)
    x[16000 * 15] = np.nan
    sf.write(d / "long.wav", x, 16000, subtype="FLOAT")
    return ["transcribe", str(d / "long.wav"), str(_good(d)), "--model", str(TINY), "--chunk-seconds", "4"]


CUDA = torch.cuda.is_available()

CASES = [
    # train: run folders
    Case("train_into_existing_run", lambda d: [*_train(d), *([] if _old_run(d) else [])], 1,
         ("holds a run already", "--resume", "--overwrite")),
    Case("train_resume_and_overwrite", lambda d: _train(d, "--resume", "--overwrite"), 1, ("give one of them",)),
    Case("train_out_is_a_file", lambda d: _train(d)[:-2] + [str(_w(d / "f", b"mine")), "--no-progress"], 1,
         ("is a file",)),
    # train: wrong types and values, named with their key and where they were set
    Case("lr_abc_override", lambda d: _train(d, "model.optim.lr=abc"), 1,
         ("command line (model.optim.lr=abc): model.optim.lr: expected a number",)),
    Case("lr_abc_in_yaml", lambda d: _edited(d, "lr: 0.02", "lr: abc"), 1,
         ("{d}/c.yaml:", "model.optim.lr: expected a number, got 'abc'")),
    Case("max_epochs_thirty_in_yaml", lambda d: _edited(d, "max_epochs: 1", "max_epochs: thirty"), 1,
         ("{d}/c.yaml:", "trainer.max_epochs: expected a whole number")),
    Case("max_epochs_thirty_override", lambda d: _train(d, "trainer.max_epochs=thirty"), 1,
         ("command line (trainer.max_epochs=thirty)",)),
    Case("batch_size_zero", lambda d: _train(d, "model.train_ds.batch_size=0"), 1,
         ("model.train_ds.batch_size: must be at least 1, got 0",)),
    Case("batch_size_negative_in_yaml", lambda d: _edited(d, "batch_size: 10", "batch_size: -4"), 1,
         ("{d}/c.yaml:", "model.train_ds.batch_size: must be at least 1, got -4")),
    Case("num_workers_negative", lambda d: _train(d, "model.train_ds.num_workers=-1"), 1, ("at least 0",)),
    Case("accelerator_tpu", lambda d: _train(d, "trainer.accelerator=tpu"), 1,
         ("trainer.accelerator: harken trains on",)),
    *([] if CUDA else [Case("accelerator_gpu_without_one", lambda d: _train(d, "trainer.accelerator=gpu"), 1,
                            ("no CUDA GPU",))]),
    Case("devices_abc", lambda d: _train(d, "trainer.devices=abc"), 1, ("trainer.devices: expected a number",)),
    Case("devices_zero", lambda d: _train(d, "trainer.devices=0"), 1, ("trainer.devices: must be at least 1",)),
    Case("devices_list_on_cpu", lambda d: _train(d, "trainer.devices=[0,1]"), 1, ("on the CPU",)),
    Case("precision_17", lambda d: _train(d, "trainer.precision=17"), 1, ("trainer.precision: expected one of",)),
    Case("precision_half_weights", lambda d: _train(d, "trainer.precision=bf16-true"), 1, ("trainer.precision",)),
    Case("strategy_unknown", lambda d: _train(d, "trainer.strategy=foo"), 1, ("a Lightning strategy",)),
    Case("devices_absurd", lambda d: _train(d, "trainer.devices=100000"), 1, ("more than this machine can run",)),
    Case("num_workers_absurd", lambda d: _train(d, "model.train_ds.num_workers=100000"), 1,
         ("more than this machine can run",)),
    Case("num_nodes_without_cluster", lambda d: _train(d, "trainer.num_nodes=2"), 1,  # it would wait forever
         ("no cluster environment",)),
    Case("optimizer_option_unknown", lambda d: _train(d, "+model.optim.lrr=3"), 1,
         ("model.optim.lrr: not an option of the adamw optimizer",)),
    Case("optimizer_name_unknown", lambda d: _train(d, "model.optim.name=adamx"), 1, ("optim.name='adamx'",)),
    Case("schedule_name_unknown", lambda d: _train(d, "model.optim.sched.name=foo"), 1,
         ("optim.sched.name='foo'",)),
    Case("betas_out_of_range", lambda d: _train(d, "+model.optim.betas=[0.9,1.5]"), 1, ("model.optim.betas",)),
    Case("model_size_not_a_number", lambda d: _train(d, "model.encoder.jasper.0.filters=abc"), 1,
         ("command line (model.encoder.jasper.0.filters=abc)", "expected a number")),
    Case("model_section_broken", lambda d: _train(d, "model.decoder=5"), 1,
         ("{d}/c.yaml:", "command line (model.decoder=5)", "does not describe a model")),
    Case("no_training_manifest", lambda d: _train(d, "model.train_ds.manifest_filepath=null"), 1,
         ("the training manifest is required",)),
    Case("config_not_utf8", lambda d: _latin1_config(d), 1, ("{d}/c.yaml:", "not UTF-8")),
    # train --resume
    Case("resume_missing", lambda d: _resume_from(d, None), 1, ("no checkpoint at",)),
    Case("resume_truncated", lambda d, c: _resume_from(d, c["good"][:len(c["good"]) // 2]), 1,
         ("cannot be read as a checkpoint", "cut short"), needs_checkpoints=True),
    Case("resume_other_architecture", lambda d, c: _resume_from(d, c["other"]), 1,
         ("holds another architecture", "config.yaml"), needs_checkpoints=True),
    Case("resume_damaged_best", lambda d, c: _resume_from(d, c["good"], c["good"][:1000]), 1,
         ("best.ckpt cannot be read as a checkpoint",), needs_checkpoints=True),
    Case("resume_text_file", lambda d: _resume_from(d, b"not a checkpoint\n"), 1, ("cannot be read as a checkpoint",)),
    Case("resume_no_state_dict", lambda d: _resume_from(d, _torch_bytes({"epoch": 3})), 1,
         ("not a training checkpoint",)),
    # vad and classify: one bad row costs only itself
    Case("vad_bad_row", lambda d: ["vad", "--manifest", str(_mixed(d)), "--model", str(VAD)], 1,
         ("{d}/m.json:2:", "1 item(s) failed, 2 done")),
    Case("vad_bad_row_stop", lambda d: ["vad", "--manifest", str(_mixed(d)), "--model", str(VAD), "--on-error",
                                        "stop"], 1, ("--on-error stop", "1 item(s) failed, 1 done")),
    Case("vad_empty_manifest", lambda d: ["vad", "--manifest", str(_manifest(d / "m.json", [])), "--model",
                                          str(VAD)], 1, ("no rows",)),
    Case("vad_output_onto_manifest", lambda d: [
        "vad", "--manifest", str(_manifest(d / "m.json", [_row(str(_good(d, "m.wav")))])), "--model", str(VAD),
        "--format", "json", "--output-dir", str(d), "--overwrite"], 1, ("never writes onto its inputs",)),
    Case("vad_threshold_nan", lambda d: ["vad", str(_good(d)), "--model", str(VAD), "--onset", "nan"], 2,
         ("expected a finite number",)),
    Case("vad_unknown_device", lambda d: ["vad", str(_good(d)), "--model", str(VAD), "--device", "tpu"], 1,
         ("unknown device",)),
    Case("classify_bad_row", lambda d: ["classify", "--manifest", str(_mixed(d)), "--model", str(CLASSIFIER)], 1,
         ("{d}/m.json:2:", "1 item(s) failed, 2 done")),
    Case("classify_bad_row_stop", lambda d: ["classify", "--manifest", str(_mixed(d)), "--model", str(CLASSIFIER),
                                             "--on-error", "stop", "--batch-size", "1"], 1,
         ("1 item(s) failed, 1 done",)),
    Case("classify_batch_size_zero", lambda d: ["classify", str(_good(d)), "--model", str(CLASSIFIER),
                                                "--batch-size", "0"], 2, ("at least 1",)),
    # lm build and tokenizer train: text that is not UTF-8, outputs onto inputs
    Case("lm_text_not_utf8", lambda d: _lm(d, str(_latin1_text(d)), "--out", str(d / "lm.arpa")), 1,
         ("{d}/t.txt:2: not UTF-8",)),
    Case("lm_manifest_not_utf8", lambda d: _lm(d, "--manifest", str(_latin1_manifest(d)), "--out",
                                               str(d / "lm.arpa")), 1, ("{d}/m.json:1: not UTF-8",)),
    Case("lm_exclude_not_utf8", lambda d: _lm(d, "--manifest", str(_texts(d)), "--exclude", str(_w(
        d / "x.json", b'{"audio_filepath": "a.wav", "duration": 1, "text": "\xff"}\n')), "--out", str(d / "lm.arpa")),
         1, ("{d}/x.json:1: not UTF-8",)),
    Case("lm_out_onto_manifest", lambda d: _lm(d, "--manifest", str(_texts(d)), "--out", str(d / "m.json"),
                                               "--overwrite"), 1, ("never writes onto its inputs",)),
    Case("lm_out_exists", lambda d: _lm(d, "--manifest", str(_texts(d)), "--out", str(_w(d / "lm.arpa", b"mine"))),
         1, ("give --overwrite",)),
    Case("lm_text_is_folder", lambda d: _lm(d, str(d), "--out", str(d / "lm.arpa")), 1, ("is a folder",)),
    Case("lm_text_is_fifo", lambda d: _lm(d, str(_fifo(d, "t.txt")), "--out", str(d / "lm.arpa")), 1,
         ("not a regular file",)),
    Case("lm_order_zero", lambda d: _lm(d, "--manifest", str(_texts(d)), "--out", "x", "--order", "0"), 2,
         ("at least 1",)),
    Case("tokenizer_manifest_not_utf8", lambda d: ["tokenizer", "train", "--manifest", str(_latin1_manifest(d)),
                                                   "--out", str(d / "tok")], 1, ("{d}/m.json:1: not UTF-8",)),
    Case("tokenizer_vocab_too_big", lambda d: ["tokenizer", "train", "--manifest", str(_texts(d)), "--out",
                                               str(d / "tok"), "--vocab-size", "100000"], 1,
         ("SentencePiece refused: Vocabulary size too high",)),
    Case("tokenizer_out_exists", lambda d: ["tokenizer", "train", "--manifest", str(_texts(d)), "--out",
                                            str(_holding(d / "tok", "vocab.txt").parent)], 1, ("give --overwrite",)),
    Case("tokenizer_out_is_manifest", lambda d: ["tokenizer", "train", "--manifest", str(_texts(d)), "--out",
                                                 str(d / "m.json")], 1, ("is a file",)),
    # data writers never write onto an input, nor replace a file without --overwrite
    Case("shard_into_existing", lambda d: [
        "data", "shard", str(_manifest(d / "m.json", [_row(str(_good(d)))])),
        str(_holding(d / "s", "index.json").parent)], 1, ("give --overwrite",)),
    Case("shard_onto_manifest", lambda d: [
        "data", "shard", str(_manifest(_holding(d / "s", "index.json"), [_row(str(_good(d)))])), str(d / "s"),
        "--overwrite"], 1, ("never writes onto its inputs",)),
    Case("shard_onto_audio", lambda d: [
        "data", "shard", str(_manifest(d / "m.json", [_row(str(_good(_holding(d / "s").parent, "shard-000000.tar")))])),
        str(d / "s"), "--overwrite"], 1, ("never writes onto its inputs",)),
    Case("shard_bad_row", lambda d: ["data", "shard", str(_mixed(d)), str(d / "s")], 1, ("{d}/m.json:2:",)),
    Case("shard_fifo_audio", lambda d: ["data", "shard", str(_manifest(d / "m.json", [_row(str(_fifo(d, "p.wav")))])),
                                        str(d / "s")], 1, ("m.json:1:", "not a regular file")),
    Case("shard_outdir_is_file", lambda d: ["data", "shard", str(_manifest(d / "m.json", [_row(str(_good(d)))])),
                                            str(_w(d / "f", b"mine"))], 1, ("is a file",)),
    Case("shard_size_zero", lambda d: ["data", "shard", "m.json", "s", "--shard-size", "0"], 2, ("at least 1",)),
    Case("report_out_exists", lambda d: ["data", "report", str(_manifest(d / "m.json", [_row(str(_good(d)))])),
                                         str(_w(d / "r.html", b"mine"))], 1, ("give --overwrite",)),
    Case("report_onto_manifest", lambda d: ["data", "report", str(_manifest(d / "m.json", [_row(str(_good(d)))])),
                                            str(d / "m.json"), "--overwrite"], 1, ("never writes onto its inputs",)),
    Case("report_onto_audio", lambda d: ["data", "report", str(_manifest(d / "m.json", [_row(str(_good(d)))])),
                                         str(d / "good.wav"), "--overwrite"], 1, ("never writes onto its inputs",)),
    Case("perturb_into_existing", lambda d: [
        "data", "perturb", str(_manifest(d / "m.json", [_row(str(_good(d)))])),
        str(_holding(d / "p", "manifest.json").parent), "--spec", "{gain: {}}"], 1, ("give --overwrite",)),
    Case("perturb_onto_manifest", lambda d: [
        "data", "perturb", str(_manifest(_holding(d / "p", "manifest.json"), [_row(str(_good(d)))])), str(d / "p"),
        "--spec", "{gain: {}}", "--overwrite"], 1, ("never writes onto its inputs",)),
    Case("perturb_onto_audio", lambda d: [
        "data", "perturb", str(_manifest(d / "m.json", [_row(str(_good(_holding(d / "p" / "wav").parent,
                                                                         "000000.wav")))])),
        str(d / "p"), "--spec", "{gain: {}}", "--overwrite"], 1, ("never writes onto its inputs",)),
    Case("perturb_bad_spec", lambda d: ["data", "perturb", "m.json", str(d / "p"), "--spec", "{gain: 5}"], 1,
         ("expected a mapping",)),
    Case("perturb_room_ringing_for_ever", lambda d: ["data", "perturb", "m.json", str(d / "p"), "--spec",
                                                     "{reverb: {min_rt60: 1e9, max_rt60: 1e9}}"], 1,
         ("--spec.reverb.min_rt60: 1000000000.0 is outside",)),
    Case("perturb_unknown_option", lambda d: ["data", "perturb", "m.json", str(d / "p"), "--spec",
                                              "{gain: {loudness: 3}}"], 1, ("--spec.gain.loudness: not an option",)),
    Case("train_augmentor_absurd", lambda d: _train(d, "+model.train_ds.augmentor.speed.min_rate=1e-9"), 1,
         ("model.train_ds.augmentor.speed.min_rate: 1e-09 is outside",)),
    Case("perturb_bad_row", lambda d: ["data", "perturb", str(_mixed(d)), str(d / "p"), "--spec", "{gain: {}}"], 1,
         ("{d}/m.json:2:",)),
    # long recordings, read in blocks, refuse NaN as whole files do
    Case("long_audio_nan", _long_nan, 1, ("long.wav: holds NaN or infinite samples", "1 item(s) failed, 1 done")),
]


def _torch_bytes(obj) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _snapshot(folder: Path) -> dict[str, str]:
    """Digest of every regular file (FIFOs are never opened)."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


class _Alarm(Exception):
    pass


def run_cli(argv: list[str], seconds: int = 60):
    """The CLI's exit status, under an alarm (a hang fails the test instead of the suite)."""
    def ring(*_):
        raise _Alarm(f"still running after {seconds} s: {argv}")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        return cli(argv)
    except SystemExit as e:  # argparse refusals
        return e.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path, capsys, monkeypatch, request):
    monkeypatch.chdir(tmp_path)
    args = (tmp_path, request.getfixturevalue("checkpoints")) if case.needs_checkpoints else (tmp_path,)
    argv = case.build(*args)
    before = _snapshot(tmp_path)
    status = run_cli(argv)
    err = capsys.readouterr().err
    assert status == case.status, err
    for words in case.says:
        assert words.replace("{d}", str(tmp_path)) in err, err
    assert "Traceback" not in err, err
    after = _snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before, "an input file changed"


# ------------------------------------------------------------------ what is not refused still works
def test_overwrite_starts_over_without_the_old_runs_best_weights(tmp_path, capsys):
    import harken

    _old_run(tmp_path)
    assert run_cli(_train(tmp_path, "--overwrite")) == 0, capsys.readouterr().err
    run = tmp_path / "run"
    assert not (run / "checkpoints" / "best.ckpt").exists()  # the old run's: model.nemo must not take it
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 1
    assert "old: config" not in (run / "config.yaml").read_text()
    assert harken.load(str(run / "model.nemo")) is not None


def test_resume_from_the_runs_own_checkpoint_goes_on(tmp_path, checkpoints, capsys):
    argv = _train(tmp_path, "--resume", "trainer.max_steps=2", "trainer.max_epochs=5")
    _old_run(tmp_path, checkpoints["good"], checkpoints["good"])
    assert run_cli(argv) == 0, capsys.readouterr().err
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2


def test_unknown_keys_are_warned_with_their_line_and_a_close_match(tmp_path, caplog):
    from harken.core.config import ConfigOrigin, load_config, resolve
    from harken.training.config_check import check_training_config

    path = tiny_yaml(tmp_path)
    text = path.read_text().replace("  max_steps: 1\n", "  max_steps: 1\n  max_epoch: 3\n")
    path.write_text(text)
    line = text.splitlines().index("  max_epoch: 3") + 1
    with caplog.at_level(logging.WARNING, logger="harken.train"):
        check_training_config(resolve(load_config(path)), ConfigOrigin(path))
    assert f"{path}:{line}: ignoring a key harken does not read: trainer.max_epoch (did you mean max_epochs?)" \
        in caplog.text


def test_every_trainer_key_harken_passes_on_is_checked():
    from harken.training.config_check import TRAINER
    from harken.training.run import TRAINER_KEYS

    assert TRAINER_KEYS <= set(TRAINER)


def test_config_origin_names_the_file_line_or_the_override(tmp_path):
    from harken.core.config import ConfigOrigin

    path = tiny_yaml(tmp_path)
    lines = path.read_text().splitlines()
    where = ConfigOrigin(path, ["model.optim.lr=abc", "+trainer.max_epoch=3"])
    assert where("model.optim.lr") == "command line (model.optim.lr=abc)"
    assert where("trainer.max_steps") == f"{path}:{lines.index('  max_steps: 1') + 1}"
    assert where("model.optim") == f"{path}:{lines.index('  optim:') + 1} and command line (model.optim.lr=abc)"
    assert ConfigOrigin()("model.optim.lr") == "config"


def test_numbers_with_an_exponent_are_numbers_as_in_nemo():
    from harken.core.config import apply_overrides, dump_config, parse_yaml

    assert parse_yaml(b"lr: 1e-3\nmin_lr: 5E-6\nname: x1e3\n", "c.yaml") == {"lr": 0.001, "min_lr": 5e-6,
                                                                           "name": "x1e3"}
    assert apply_overrides({"lr": 0.1}, ["lr=5e-4"]) == {"lr": 5e-4}
    assert parse_yaml(dump_config({"text": "1e-3"}), "c.yaml") == {"text": "1e-3"}  # a string stays one


def test_only_the_first_process_guards_the_run_folder(monkeypatch):
    from harken.training.run_guard import primary_process

    assert primary_process()
    monkeypatch.setenv("LOCAL_RANK", "1")  # a DDP worker started by Lightning runs the same command later
    assert not primary_process()


def test_vad_and_classify_keep_every_good_rows_result(tmp_path, capsys):
    m = _mixed(tmp_path)
    assert run_cli(["vad", "--manifest", str(m), "--model", str(VAD), "--format", "json", "--output-dir",
                    str(tmp_path / "out")]) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good-1.json", "good.json"]
    capsys.readouterr()
    assert run_cli(["classify", "--manifest", str(m), "--model", str(CLASSIFIER), "--batch-size", "3"]) == 1
    out = capsys.readouterr()
    assert [line.split("\t")[0] for line in out.out.splitlines()] == [str(tmp_path / "good.wav")] * 2
    assert f"{m}:2: " in out.err


def test_shard_overwrite_leaves_no_stale_shard(tmp_path):
    import tarfile

    m = _manifest(tmp_path / "m.json", [_row(str(_good(tmp_path)))] * 3)
    assert run_cli(["data", "shard", str(m), str(tmp_path / "s"), "--shard-size", "1"]) == 0
    assert len(list((tmp_path / "s").glob("shard-*.tar"))) == 3
    assert run_cli(["data", "shard", str(m), str(tmp_path / "s"), "--shard-size", "3", "--overwrite"]) == 0
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["index.json", "shard-000000.tar"]
    with tarfile.open(tmp_path / "s" / "shard-000000.tar") as tar:
        assert len(tar.getnames()) == 6


def test_tokenizer_and_lm_replace_their_outputs_only_when_told(tmp_path, capsys):
    m = _texts(tmp_path)
    tok = ["tokenizer", "train", "--manifest", str(m), "--out", str(tmp_path / "tok")]
    assert run_cli([*tok, "--vocab-size", "14"]) == 0
    assert run_cli([*tok, "--vocab-size", "12"]) == 1
    assert len((tmp_path / "tok" / "vocab.txt").read_text().splitlines()) == 14
    assert run_cli([*tok, "--vocab-size", "12", "--overwrite"]) == 0
    assert len((tmp_path / "tok" / "vocab.txt").read_text().splitlines()) == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "tok"]  # no training folder left behind
    lm = ["lm", "build", "--manifest", str(m), "--out", str(tmp_path / "lm.arpa")]
    assert run_cli(lm) == 0 and run_cli(lm) == 1 and run_cli([*lm, "--overwrite"]) == 0
    assert (tmp_path / "lm.arpa").read_text().startswith("\\data\\")
