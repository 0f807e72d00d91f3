"""`pip install harken[runtime]` in a fresh venv: no torch, no Lightning, and yet `harken transcribe --runtime onnx`
gives the torch pipeline's text for the shipped model; commands that need torch say which extra to install.

The venv is built once for the module (about 30 s with pip's cache warm). The repository's sources are copied to
a temporary folder first, so pip's in-tree build leaves nothing behind in the checkout. Skipped when pip cannot
reach a package index."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from harken.cli.main import main as cli
from harken.synth.espeak import speak

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "harken" / "pretrained" / "models" / "harken_en_small.nemo"
SENTENCES = ["open the door", "she walked slowly along the river in the morning", "seven three nine one"]
# what pip prints when it cannot reach an index (no network): a skip, not a failure
OFFLINE = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
           "No matching distribution found", "Could not fetch URL", "ConnectTimeout")


def _clean_env() -> dict[str, str]:
    """The environment without anything that would let the venv see this checkout or the main venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    return env


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runtime_install")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "harken", src / "harken", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_clean_env())
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--retries", "1", "--timeout",
                          "20", f"{src}[runtime]"], capture_output=True, text=True, env=_clean_env(), cwd=root)
    if pip.returncode != 0:
        if any(sign in pip.stdout + pip.stderr for sign in OFFLINE):
            pytest.skip(f"pip cannot reach a package index: {pip.stderr.strip().splitlines()[-1]}")
        raise AssertionError(f"pip install harken[runtime] failed:\n{pip.stdout}\n{pip.stderr}")
    return venv


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("speech")
    files = []
    for i, text in enumerate(SENTENCES):
        path = folder / f"s{i}.wav"
        sf.write(path, speak(text, "en-gb-x-gbclan+m5", speed=160, pitch=50, sample_rate=16000), 16000)
        files.append(str(path))
    return files


def _venv_run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True,
                          env=_clean_env(), cwd=cwd, timeout=120)


def test_runtime_install_has_no_torch_and_transcribes_as_torch_does(runtime_venv, speech, tmp_path, capsys):
    for module in ("torch", "lightning"):
        probe = _venv_run(runtime_venv, "python", "-c", f"import {module}", cwd=tmp_path)
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, (module, probe.stderr)
    located = _venv_run(runtime_venv, "python", "-c", "import harken; print(harken.__file__)", cwd=tmp_path)
    assert str(runtime_venv) in located.stdout, located  # the installed copy, not this checkout

    exported = tmp_path / "shipped"
    assert cli(["export", str(SHIPPED), str(exported)]) == 0  # with the main venv's torch
    capsys.readouterr()
    assert cli(["transcribe", "--model", str(SHIPPED), *speech]) == 0
    expected = capsys.readouterr().out.splitlines()
    assert len(expected) == len(SENTENCES) and all(line.split("\t")[1].strip() for line in expected), expected

    got = _venv_run(runtime_venv, "harken", "transcribe", "--runtime", "onnx", "--model", str(exported), *speech,
                    cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines() == expected


@pytest.mark.parametrize(("command", "message"), [
    (["transcribe", "{wav}"], "harken transcribe: error: needs PyTorch: pip install 'harken[torch]' "
                              "(or use --runtime onnx with an exported model)"),
    (["eval", "--manifest", "{manifest}"], "harken eval: error: needs PyTorch: pip install 'harken[torch]'"),
    (["export", "{nemo}", "out"], "harken export: error: needs PyTorch: pip install 'harken[export]'"),
])
def test_commands_that_need_torch_name_the_extra(runtime_venv, speech, tmp_path, command, message):
    manifest = tmp_path / "m.json"
    manifest.write_text(f'{{"audio_filepath": "{speech[0]}", "duration": 1.0, "text": "open the door"}}\n')
    args = [a.format(wav=speech[0], manifest=manifest, nemo=SHIPPED) for a in command]
    got = _venv_run(runtime_venv, "harken", *args, cwd=tmp_path)
    assert got.returncode == 1
    assert got.stderr.strip() == message  # one line, no traceback
    assert got.stdout == ""
    assert not (tmp_path / "out").exists()
