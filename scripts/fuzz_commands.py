"""Cases for scripts/fuzz_cli.py beyond transcribe, eval, align, data check and data prepare:

  train      configs with odd values at random keys (in the file or as overrides), broken YAML, odd config
             paths, bad training manifests, folders that hold a run (with or without --resume/--overwrite)
             and last.ckpt files that are real, cut short, of another architecture or not checkpoints at all
  vad, classify   manifests and files with bad rows, --on-error, outputs aimed at the inputs, odd options
  lm, tokenizer   text and manifests that are not UTF-8 or not files, outputs onto inputs, odd sizes
  shard, report, perturb   outputs onto the manifest, its audio or files already there, with and without
             --overwrite; bad rows; odd specs

Each case is a `Case`; `may_change` lists the files a command may legitimately replace (what --overwrite
or a good --resume names that is no input).
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from fuzz_inputs import ROOT, SPEECH, Case, bad_audio, bad_manifest

NEMO = ROOT / "tests" / "data" / "nemo"
KINDS = ["train", "train", "train", "vad", "classify", "lm", "tokenizer", "shard", "report", "perturb"]
TRAIN_KEYS = [
    "trainer.devices", "trainer.accelerator", "trainer.precision", "trainer.strategy", "trainer.num_nodes",
    "trainer.log_every_n_steps", "trainer.check_val_every_n_epoch", "trainer.val_check_interval",
    "trainer.gradient_clip_val", "trainer.accumulate_grad_batches", "trainer.limit_train_batches",
    "trainer.num_sanity_val_steps", "trainer.max_steps", "trainer.max_epochs", "trainer.seed", "trainer.mx_epochs",
    "model.optim.lr", "model.optim.name", "model.optim.weight_decay", "model.optim.betas", "model.optim.lrr",
    "model.optim.sched.name", "model.optim.sched.warmup_steps", "model.optim.sched.min_lr",
    "model.train_ds.batch_size", "model.train_ds.num_workers", "model.train_ds.max_duration",
    "model.train_ds.num_buckets", "model.train_ds.shuffle", "model.train_ds.manifest_filepath",
    "model.validation_ds.batch_size", "model.sample_rate", "model.labels", "model.encoder.jasper.0.filters",
    "model.preprocessor.features", "model.preprocessor.n_fft", "trainer", "model.optim", "name", "exp_manager",
    "model.train_ds.augmentor", "model.train_ds.augmentor.reverb.max_rt60", "model.train_ds.augmentor.speed",
]
TRAIN_VALUES = ["abc", "thirty", -1, 0, 1, 2, 7, 1.5, -0.5, None, True, [], {}, [0, 1], "", "tpu", "gpu", "auto",
                "cuda:7", "bf16-true", "1e-3", 1e308, 10**7, 2**31 - 1, "${nowhere}", "${model.sample_rate}"]
RUN_FILES = ("checkpoints/last.ckpt", "checkpoints/best.ckpt", "config.yaml", "model.nemo")


# ------------------------------------------------------------------ shared inputs
def tiny_config(manifest: str) -> dict:
    """The quick config shrunk to a model that trains a step in about a second, on `manifest`."""
    cfg = yaml.safe_load((ROOT / "harken" / "configs" / "quick.yaml").read_text())
    model = cfg["model"]
    blocks = model["encoder"]["jasper"]
    model["encoder"]["jasper"] = [{**blocks[0], "filters": 64}, {**blocks[1], "filters": 64, "repeat": 1},
                                  {**blocks[-1], "filters": 96}]
    model["decoder"]["feat_in"], model["spec_augment"], model["preprocessor"]["dither"] = 96, None, 0.0
    model["train_ds"].pop("augmentor", None)
    model["train_ds"].update(manifest_filepath=manifest, batch_size=4)
    model["validation_ds"]["manifest_filepath"] = manifest
    cfg["trainer"].update(max_steps=1, max_epochs=1, check_val_every_n_epoch=1000, checkpoint_every_n_steps=0,
                          log_every_n_steps=1, enable_model_summary=False)
    return cfg


def prepare_base(base: Path, env: dict) -> None:
    """The VAD and classifier fixtures, a one-utterance manifest, the tiny config, and two real checkpoints
    (of that config, and of one with a narrower first block) from one-step runs."""
    shutil.copy(NEMO / "marblenet_vad" / "model.nemo", base / "vad.nemo")
    shutil.copy(NEMO / "matchboxnet" / "model.nemo", base / "classifier.nemo")
    row = {"audio_filepath": str(base / "good.wav"), "duration": 1.5, "text": "the cat sat"}
    (base / "train.json").write_text(json.dumps(row) + "\n")
    (base / "tiny.yaml").write_text(yaml.safe_dump(tiny_config(str(base / "train.json")), sort_keys=False))
    for name, extra in (("good", []), ("other", ["model.encoder.jasper.0.filters=32"])):
        run = base / f"run_{name}"
        subprocess.run([sys.executable, "-m", "harken", "train", str(base / "tiny.yaml"), "--out", str(run),
                        "--no-progress", *extra], check=True, capture_output=True, env=env)
        shutil.copy(run / "checkpoints" / "last.ckpt", base / f"{name}.ckpt")
        shutil.rmtree(run)


def make_command_case(rng: random.Random, folder: Path, base: Path) -> Case:
    kind = rng.choice(KINDS)
    return {"train": _train, "vad": _vad, "classify": _classify, "lm": _lm, "tokenizer": _tokenizer,
            "shard": _shard, "report": _report, "perturb": _perturb}[kind](rng, folder, base)


# ------------------------------------------------------------------ train
def _yaml_text(value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text[:-3].strip() if text.endswith("...") else text


def _has(cfg, dotted: str) -> bool:
    node = cfg
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _set(cfg: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    node = cfg
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value


def _train(rng: random.Random, folder: Path, base: Path) -> Case:
    cfg, extra, may_change = yaml.safe_load((base / "tiny.yaml").read_text()), [], []
    config = folder / "c.yaml"
    choice = rng.randrange(10)
    if choice <= 4:  # odd values at one or two keys, in the file or as overrides (never both of the run's bounds)
        keys = rng.sample(TRAIN_KEYS, rng.randint(1, 2))
        if {"trainer.max_steps", "trainer.max_epochs"} <= set(keys):
            keys.remove("trainer.max_epochs")
        for key in keys:
            value = rng.choice(TRAIN_VALUES)
            if rng.random() < 0.5:
                _set(cfg, key, copy.deepcopy(value))
            else:
                extra.append(f"{'' if _has(cfg, key) else '+'}{key}={_yaml_text(value)}")
    elif choice <= 6:  # a folder that holds a run
        ckpt = rng.choice(["good", "other", "cut", "text", None])
        data = {"good": (base / "good.ckpt").read_bytes(), "other": (base / "other.ckpt").read_bytes(),
                "cut": (base / "good.ckpt").read_bytes()[:rng.randrange(1, 200000)], "text": b"not a checkpoint\n",
                None: None}[ckpt]
        run = folder / "run"
        (run / "checkpoints").mkdir(parents=True)
        for name in RUN_FILES:
            body = data if name.endswith(".ckpt") and data is not None else b"old " + name.encode()
            if not (name.endswith("last.ckpt") and data is None) and not (name.endswith("best.ckpt") and rng.random()
                                                                            < 0.5):
                (run / name).write_bytes(body)
        extra = rng.choice([[], ["--resume"], ["--overwrite"], ["--resume", "--overwrite"]])
        if extra == ["--overwrite"] or extra == ["--resume"] and ckpt == "good":
            may_change = [str(run / name) for name in RUN_FILES]
    elif choice == 7:  # a training manifest with bad rows
        audio = [str(base / "good.wav"), str(bad_audio(rng, folder)), "missing.wav"]
        cfg["model"]["train_ds"]["manifest_filepath"] = str(bad_manifest(rng, folder, audio))
    text = yaml.safe_dump(cfg, sort_keys=False).encode()
    if choice == 8:  # broken YAML text
        cut = rng.choice(["latin1", "bomb", "cut", "tab", "list"])
        text = {"latin1": text + b"# caf\xe9\n", "cut": text[:rng.randrange(len(text))], "tab": b"\t" + text,
                "list": b"- " + text, "bomb": text + b"b0: &b0 [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
                    f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]\n".encode() for i in range(1, 9))}[cut]
    config.write_bytes(text)
    if choice == 9:  # not a config file
        config = rng.choice([folder / "missing.yaml", folder, Path(shutil.copy(SPEECH, folder / "c.wav")), "nothing"])
        if rng.random() < 0.3:
            os.mkfifo(folder / "p.yaml")
            config = folder / "p.yaml"
    return Case("train", ["train", str(config), "--out", str(folder / "run"), "--no-progress", *extra], folder,
                may_change=may_change)


# ------------------------------------------------------------------ vad and classify
def _audio_inputs(rng: random.Random, folder: Path, base: Path) -> tuple[list[str], list[str]]:
    """(argv naming the inputs, their paths): a few files or a manifest, some of them bad."""
    good = str(base / "good.wav")
    if rng.random() < 0.5:
        files = [str(bad_audio(rng, folder, f"a{i}.wav")) for i in range(rng.randint(1, 2))] + [good]
        rng.shuffle(files)
        return files, files
    m = bad_manifest(rng, folder, [good, str(bad_audio(rng, folder)), "missing.wav"])
    return ["--manifest", str(m)], [str(m), good]


def _odd_option(rng: random.Random, options: list[str]) -> list[str]:
    if rng.random() < 0.7:
        return []
    return [rng.choice(options), rng.choice(["0", "-1", "nan", "inf", "x", "", "tpu", "cuda:7", "2", "1e9"])]


def _vad(rng: random.Random, folder: Path, base: Path) -> Case:
    inputs, _ = _audio_inputs(rng, folder, base)
    argv = ["vad", *inputs, "--model", str(base / "vad.nemo"), "--on-error", rng.choice(["skip", "stop"])]
    if rng.random() < 0.5:
        out = rng.choice([folder / "out", folder])  # the folder holds the inputs: names may collide with them
        argv += ["--format", rng.choice(["json", "rttm,txt", "ctm", "json,srt"]), "--output-dir", str(out)]
        argv += ["--overwrite"] if rng.random() < 0.3 else []
    argv += _odd_option(rng, ["--onset", "--offset", "--shift", "--min-duration-on", "--device", "--overlap"])
    return Case("vad", argv, folder)


def _classify(rng: random.Random, folder: Path, base: Path) -> Case:
    inputs, _ = _audio_inputs(rng, folder, base)
    argv = ["classify", *inputs, "--model", str(base / "classifier.nemo"), "--on-error", rng.choice(["skip", "stop"])]
    argv += ["--json"] if rng.random() < 0.3 else []
    argv += _odd_option(rng, ["--batch-size", "--top-k", "--device"])
    return Case("classify", argv, folder)


# ------------------------------------------------------------------ lm build and tokenizer train
def _text_file(rng: random.Random, folder: Path, name: str = "text.txt") -> Path:
    path = folder / name
    choice = rng.randrange(7)
    if choice == 0:
        os.mkfifo(path)
    elif choice == 1:
        path.mkdir()
    else:
        path.write_bytes([b"the cat sat.\ncaf\xe9 au lait\n", b"", b"\xff\xfe\x00t\x00", b"one two three\n" * 50,
                          rng.randbytes(300)][choice - 2])
    return path


def _out_target(rng: random.Random, folder: Path, inputs: list[Path], new: str) -> tuple[Path, list[str], bool]:
    """An output path: new, a file of the user's, an input or a folder; with --overwrite or not."""
    (folder / "mine.txt").write_text("keep me\n")
    target = rng.choice([folder / new, folder / "mine.txt", folder, *inputs])
    over = rng.random() < 0.5
    return target, ["--overwrite"] if over else [], over and target == folder / "mine.txt"


def _lm(rng: random.Random, folder: Path, base: Path) -> Case:
    texts = [_text_file(rng, folder)] if rng.random() < 0.6 else []
    m = bad_manifest(rng, folder, [str(base / "good.wav")]) if rng.random() < 0.6 or not texts else None
    inputs = [*texts, *([m] if m else [])]
    target, over, replaced = _out_target(rng, folder, inputs, "lm.arpa")
    argv = ["lm", "build", *map(str, texts), *(["--manifest", str(m)] if m else []), "--out", str(target), *over]
    argv += _odd_option(rng, ["--order"])
    return Case("lm", argv, folder, env=_small_lines(rng), may_change=[str(target)] if replaced else [])


def _tokenizer(rng: random.Random, folder: Path, base: Path) -> Case:
    m = bad_manifest(rng, folder, [str(base / "good.wav")])
    if rng.random() < 0.3:
        m.write_bytes(m.read_bytes() + b'{"audio_filepath": "a.wav", "duration": 1, "text": "caf\xe9"}\n')
    out = rng.choice([folder / "tok", folder / "mine", m])
    if out == folder / "mine":
        out.mkdir()
        (out / "vocab.txt").write_text("mine\n")
    over = ["--overwrite"] if rng.random() < 0.5 else []
    argv = ["tokenizer", "train", "--manifest", str(m), "--out", str(out), *over,
            "--type", rng.choice(["bpe", "unigram", "char"])]
    argv += _odd_option(rng, ["--vocab-size", "--character-coverage"])
    return Case("tokenizer", argv, folder, may_change=[str(out / "vocab.txt")] if over and out != m else [])


def _small_lines(rng: random.Random) -> dict:
    return {"HARKEN_MAX_LINE_BYTES": "200"} if rng.random() < 0.2 else {}


# ------------------------------------------------------------------ data shard, report, perturb
def _data_inputs(rng: random.Random, folder: Path, base: Path) -> Path:
    if rng.random() < 0.4:
        return bad_manifest(rng, folder, [str(base / "good.wav"), str(bad_audio(rng, folder)), "missing.wav"])
    good = str(shutil.copy(base / "good.wav", folder / "good.wav"))
    m = folder / "m.json"
    m.write_text(json.dumps({"audio_filepath": good, "duration": 1.5, "text": "the cat"}) + "\n")
    return m


def _into(folder: Path, outputs: list[str], rng: random.Random, m: Path) -> tuple[Path, list[str], list[str]]:
    """Fill the output folder with some of `outputs`: the user's files, or the manifest or an audio file of it
    where an output goes. Returns (the manifest, the files --overwrite may replace, --overwrite or not)."""
    folder.mkdir(parents=True, exist_ok=True)
    mine = []
    for name in rng.sample(outputs, rng.randint(0, len(outputs))):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if rng.random() < 0.3 and name.endswith(".json"):
            m = Path(shutil.move(m, path))
        elif rng.random() < 0.2 and not name.endswith(".json"):
            shutil.copy(SPEECH, path)
            row = json.dumps({"audio_filepath": str(path), "duration": 1.5, "text": "x"}) + "\n"
            m.write_bytes(row.encode() + m.read_bytes())
        else:
            path.write_text("mine\n")
            mine.append(str(path))
    over = rng.random() < 0.5
    return m, (mine if over else []), (["--overwrite"] if over else [])


def _shard(rng: random.Random, folder: Path, base: Path) -> Case:
    m = _data_inputs(rng, folder, base)
    m, may, over = _into(folder / "s", ["index.json", "shard-000000.tar", "shard-000001.tar"], rng, m)
    argv = ["data", "shard", str(m), str(folder / "s"), *over] + _odd_option(rng, ["--shard-size"])
    return Case("shard", argv, folder, may_change=may)


def _report(rng: random.Random, folder: Path, base: Path) -> Case:
    m = _data_inputs(rng, folder, base)
    target, over, replaced = _out_target(rng, folder, [m, folder / "good.wav"], "r.html")
    argv = ["data", "report", str(m), str(target), *over] + _odd_option(rng, ["--sample"])
    return Case("report", argv, folder, may_change=[str(target)] if replaced else [])


def _perturb(rng: random.Random, folder: Path, base: Path) -> Case:
    m = _data_inputs(rng, folder, base)
    m, may, over = _into(folder / "p", ["manifest.json", "wav/000000.wav"], rng, m)
    spec = rng.choice(["{gain: {}}", "{white_noise: {min_snr_db: 10, max_snr_db: 10}}", "{speed: {}}", "[1, 2]",
                       "{gain: 5}", "{nothing: {}}", "{telephone: {}}", "{speed: {min_rate: 0, max_rate: 0}}",
                       "{reverb: {min_rt60: 1e9, max_rt60: 1e9}}", "x: &a [*a]", "{gain: {loudness: 3}}",
                       "{colored_noise: {color: red}}", "{speed: {min_rate: 1e-9, max_rate: 1e-9}}",
                       "{babble: {speakers: 1e9}}", "{shift: {min_shift_ms: -1e12, max_shift_ms: 1e12}}"])
    return Case("perturb", ["data", "perturb", str(m), str(folder / "p"), "--spec", spec, *over], folder,
                may_change=may)
