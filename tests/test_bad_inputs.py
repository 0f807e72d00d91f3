"""Bad input never crashes, hangs, eats memory or destroys a file (issue 34): a table of bad inputs per command.

Each case builds its inputs in a fresh folder and runs the CLI in-process under an alarm. It must exit with
the expected status, say the expected words on stderr, print no traceback, and leave every input file as it
was. Add a row for every new command or refusal. `scripts/fuzz_cli.py` throws generated inputs at the same
commands in subprocesses under a memory cap.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from harken.cli.main import main as cli

NEMO = Path(__file__).parent / "data" / "nemo"
TINY = NEMO / "quartznet_tiny" / "model.nemo"
SPEECH = NEMO / "ctc_timestamps" / "utt1.wav"


# ------------------------------------------------------------------ builders of bad files
def wav_header(path: Path, rate: int, data: bytes = b"\0\0" * 800, channels: int = 1, declared: int | None = None):
    """A PCM WAV whose header says what we like."""
    import struct

    align = 2 * channels
    size = len(data) if declared is None else declared
    fmt = struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * align, align, 16)
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", size)
                     + data)
    return path


def _w(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def float_wav(path: Path, value: float) -> Path:
    sf.write(path, np.full(1600, value, dtype=np.float32), 16000, subtype="FLOAT")
    return path


def manifest(path: Path, rows: list[dict | str]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def row(audio: str, text: str = "the cat") -> dict:
    return {"audio_filepath": audio, "duration": 1.0, "text": text}


def nemo_with(path: Path, edit: Callable[[dict], None] | None = None, extra: dict[str, bytes] | None = None,
              mode: str = "w", config_suffix: bytes = b"") -> Path:
    """The tiny fixture model with its config edited and members added."""
    with tarfile.open(TINY) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    name = next(k for k in members if k.endswith("model_config.yaml"))
    cfg = yaml.safe_load(members[name])
    if edit:
        edit(cfg)
    members[name] = yaml.safe_dump(cfg).encode() + config_suffix
    with tarfile.open(path, mode) as tar:
        for key, data in {**members, **(extra or {})}.items():
            info = tarfile.TarInfo(key)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _set(path: str, value) -> Callable[[dict], None]:
    def edit(cfg: dict) -> None:
        node = cfg
        *parents, last = path.split(".")
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last] = value
    return edit


ALIAS_BOMB = b"bomb0: &b0 [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"bomb{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]\n".encode() for i in range(1, 9))


# ------------------------------------------------------------------ the table
@dataclass
class Case:
    name: str
    build: Callable[[Path], list[str]]  # makes the inputs under the folder, returns the argv
    status: int
    says: str  # words stderr must hold
    env: dict | None = None


def _transcribe(*files: str) -> list[str]:
    return ["transcribe", *files, "--model", str(TINY)]


def _audio_case(name: str, make: Callable[[Path], Path], says: str, status: int = 1) -> Case:
    return Case(name, lambda d: _transcribe(str(make(d))), status, says)


def _fifo(d: Path, name: str = "pipe.wav") -> Path:
    os.mkfifo(d / name)
    return d / name


def _good(d: Path) -> Path:
    return Path(shutil.copy(SPEECH, d / "good.wav"))


def _mixed(d: Path, *extra: str) -> list[str]:
    """A manifest with a good row, a bad one and a good one again."""
    _good(d)
    wav_header(d / "one_hz.wav", 1)
    m = manifest(d / "m.json", [row("good.wav"), row("one_hz.wav"), row("good.wav")])
    return ["transcribe", "--manifest", str(m), "--model", str(TINY), *extra]


def _prepared(d: Path) -> list[str]:
    (d / "src").mkdir()
    sf.write(d / "src" / "a.wav", np.zeros(1600, dtype=np.float32), 16000)
    (d / "src" / "a.txt").write_text("hello")
    (d / "out").mkdir()
    (d / "out" / "all_manifest.json").write_text('{"audio_filepath": "x.wav", "duration": 1.0, "text": "mine"}\n')
    return ["data", "prepare", "folder", str(d / "src"), str(d / "out")]


def _folder_corpus(d: Path, transcript: bytes, fifo: bool = False) -> list[str]:
    (d / "s").mkdir()
    if fifo:
        _fifo(d / "s", "a.wav")
    else:
        sf.write(d / "s" / "a.wav", np.zeros(1600, dtype=np.float32), 16000)
    (d / "s" / "a.txt").write_bytes(transcript)
    return ["data", "prepare", "folder", str(d / "s"), str(d / "o")]


def _align_onto_manifest(d: Path) -> list[str]:
    _good(d)
    m = manifest(d / "good.json", [row("good.wav", "the cat sat")])
    return ["align", "--manifest", str(m), "--model", str(TINY), "--output-dir", str(d), "--format", "json",
            "--overwrite"]


CASES = [
    # audio
    _audio_case("header_only", lambda d: wav_header(d / "h.wav", 16000, b""), "no audio samples"),
    _audio_case("zero_bytes", lambda d: _w(d / "z.wav", b""), "empty (0 bytes)"),
    _audio_case("junk", lambda d: _w(d / "j.wav", b"junk" * 100), "cannot read audio"),
    _audio_case("one_hz", lambda d: wav_header(d / "r.wav", 1, os.urandom(4000)), "HARKEN_MIN_SAMPLE_RATE"),
    _audio_case("ten_mhz", lambda d: wav_header(d / "r.wav", 10_000_000), "HARKEN_MAX_SAMPLE_RATE"),
    _audio_case("many_channels", lambda d: wav_header(d / "c.wav", 16000, b"\0" * 1000 * 2 * 500, channels=500),
                "HARKEN_MAX_CHANNELS"),
    _audio_case("nan", lambda d: float_wav(d / "n.wav", np.nan), "NaN or infinite"),
    _audio_case("inf", lambda d: float_wav(d / "i.wav", np.inf), "NaN or infinite"),
    _audio_case("truncated", lambda d: wav_header(d / "t.wav", 16000, b"\0\1" * 800, declared=10**6), "truncated",
                status=0),
    _audio_case("fifo", _fifo, "not a regular file"),
    _audio_case("folder", lambda d: (d / "f.wav").mkdir() or d / "f.wav", "is a folder"),
    _audio_case("missing", lambda d: d / "missing.wav", "not found"),
    Case("one_bad_row_of_three", _mixed, 1, "m.json:2:"),
    # manifests
    Case("empty_manifest", lambda d: _transcribe("--manifest", str(manifest(d / "m.json", []))), 1, "no rows"),
    Case("latin1_manifest", lambda d: _transcribe("--manifest", str(_w(d / "m.json", b'{"audio_filepath": "\xe9"}\n'))),
         1, "m.json:1: not UTF-8"),
    Case("bad_json", lambda d: _transcribe("--manifest", str(manifest(d / "m.json", ['{"audio_filepath": ']))), 1,
         "m.json:1: not valid JSON"),
    Case("nan_offset", lambda d: _transcribe("--manifest", str(manifest(
        d / "m.json", ['{"audio_filepath": "a.wav", "duration": 1, "offset": NaN}']))), 1, "'offset' must be"),
    Case("deep_json", lambda d: _transcribe("--manifest", str(manifest(d / "m.json", ["[" * 100000]))), 1,
         "m.json:1:"),
    Case("manifest_is_folder", lambda d: _transcribe("--manifest", str(d)), 1, "is a folder"),
    Case("manifest_is_fifo", lambda d: _transcribe("--manifest", str(_fifo(d, "m.json"))), 1, "not a regular file"),
    Case("long_line", lambda d: _transcribe("--manifest", str(manifest(d / "m.json", [json.dumps(row("a" * 5000))]))),
         1, "HARKEN_MAX_LINE_BYTES", env={"HARKEN_MAX_LINE_BYTES": "1000"}),
    Case("text_file_is_fifo", lambda d: _transcribe("--manifest", str(manifest(d / "m.json", [
        {"audio_filepath": str(_good(d)), "duration": 1.0, "text_filepath": str(_fifo(d, "t.txt"))}]))), 1,
         "not a regular file"),
    Case("eval_empty_manifest", lambda d: ["eval", "--manifest", str(manifest(d / "m.json", [])), "--model",
                                           str(TINY)], 1, "no rows"),
    # outputs never destroy data
    Case("output_onto_manifest", lambda d: _mixed(d, "--output", str(d / "m.json"), "--overwrite"), 1,
         "never writes onto its inputs"),
    Case("output_onto_audio", lambda d: _transcribe(str(_good(d)), "--output", str(d / "good.wav"), "--overwrite"),
         1, "never writes onto its inputs"),
    Case("output_exists", lambda d: _transcribe(str(_good(d)), "--output", str(_w(d / "mine.tsv", b"keep me"))), 1,
         "give --overwrite"),
    Case("output_onto_model", lambda d: _transcribe(str(_good(d)))[:-1] + [
        str(Path(shutil.copy(TINY, d / "m.nemo"))), "--output", str(d / "m.nemo"), "--overwrite"], 1,
         "never writes onto its inputs"),
    Case("output_is_folder", lambda d: _transcribe(str(_good(d)), "--output", str(d)), 1, "is a folder"),
    Case("eval_output_onto_manifest", lambda d: ["eval", "--manifest", str(manifest(d / "m.json", [
        row(str(_good(d)))])), "--model", str(TINY), "--output", str(d / "m.json"), "--overwrite"], 1,
         "never writes onto its inputs"),
    Case("check_fix_onto_other_file", lambda d: [
        "data", "check", str(manifest(d / "m.json", [row(str(_good(d)))])), "--fix", str(_w(d / "notes.txt", b"mine"))],
         1, "give --overwrite"),
    Case("check_fix_onto_audio", lambda d: [
        "data", "check", str(manifest(d / "m.json", [row(str(_good(d)))])), "--fix", str(d / "good.wav"),
        "--overwrite"], 1, "audio file of the manifest"),
    Case("prepare_onto_manifests", _prepared, 1, "already holds manifests"),
    Case("align_onto_manifest", _align_onto_manifest, 1, "never writes onto its inputs"),
    # models
    Case("absurd_filters", lambda d: _transcribe(str(_good(d))) + ["--model", str(nemo_with(
        d / "m.nemo", _set("encoder.jasper.0.filters", 10_000_000)))], 1, "HARKEN_MAX_PARAMS"),
    Case("absurd_repeat", lambda d: _transcribe(str(_good(d))) + ["--model", str(nemo_with(
        d / "m.nemo", _set("encoder.jasper.0.repeat", 10_000_000)))], 1, "HARKEN_MAX_LAYERS"),
    Case("size_not_a_number", lambda d: _transcribe(str(_good(d))) + ["--model", str(nemo_with(
        d / "m.nemo", _set("encoder.jasper.0.dilation", [[1]])))], 1, "expected a number"),
    Case("section_not_a_mapping", lambda d: _transcribe(str(_good(d))) + ["--model", str(nemo_with(
        d / "m.nemo", _set("encoder", 5)))], 1, "expected a mapping"),
    Case("vocabulary_not_a_list", lambda d: _transcribe(str(_good(d))) + ["--model", str(nemo_with(
        d / "m.nemo", _set("decoder.vocabulary", 5)))], 1, "m.nemo"),
    Case("gzip_bomb", lambda d: _transcribe(str(_good(d))) + ["--model", str(nemo_with(
        d / "m.nemo", extra={"./big.bin": bytes(100 << 20)}, mode="w:gz"))], 1, "HARKEN_MAX_ARCHIVE_RATIO"),
    Case("yaml_alias_bomb", lambda d: _transcribe(str(_good(d))) + ["--model", str(nemo_with(
        d / "m.nemo", config_suffix=ALIAS_BOMB))], 1, "HARKEN_MAX_CONFIG_VALUES"),
    Case("tokenizer_path_outside", lambda d: _transcribe(str(_good(d))) + ["--model", str(nemo_with(
        d / "m.nemo", _set("tokenizer", {"type": "wpe", "vocab_path": str(_w(d / "s.txt", b"[PAD]\nsecret\n"))})))],
         1, "never from paths on this machine"),
    Case("latin1_config", lambda d: _transcribe(str(_good(d))) + ["--model", str(nemo_with(
        d / "m.nemo", config_suffix=b"# caf\xe9\n"))], 1, "not UTF-8"),
    Case("truncated_nemo", lambda d: _transcribe(str(_good(d))) + ["--model", str(
        _w(d / "t.nemo", TINY.read_bytes()[:20000]))], 1, "truncated"),
    Case("model_is_folder", lambda d: _transcribe(str(_good(d))) + ["--model", str(d)], 1, "is a folder"),
    Case("model_is_fifo", lambda d: _transcribe(str(_good(d))) + ["--model", str(_fifo(d, "m.nemo"))], 1,
         "not a regular file"),
    Case("ftp_model", lambda d: _transcribe(str(_good(d))) + ["--model", "ftp://example.org/m.nemo"], 1,
         "unsupported URL scheme"),
    # options
    Case("batch_size_zero", lambda d: _transcribe(str(_good(d)), "--batch-size", "0"), 2, "at least 1"),
    Case("batch_size_negative", lambda d: ["eval", "--manifest", "m.json", "--batch-size", "-3"], 2, "at least 1"),
    Case("unknown_device", lambda d: _transcribe(str(_good(d)), "--device", "tpu9"), 1, "unknown device"),
    # data prepare
    Case("prepare_latin1_transcript", lambda d: _folder_corpus(d, b"caf\xe9"), 1, "a.txt:1: not UTF-8"),
    Case("prepare_fifo_audio_skipped", lambda d: _folder_corpus(d, b"x", fifo=True), 1, "no audio files"),
    Case("prepare_ftp", lambda d: ["data", "prepare", "an4", "ftp://example.org/an4.tgz", str(d / "o")], 1,
         "unsupported URL scheme"),
]


def _snapshot(folder: Path) -> dict[str, str]:
    """Digest of every regular file (FIFOs are never opened)."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


class _Alarm(Exception):
    pass


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path, capsys, monkeypatch, recwarn):
    for key, value in (case.env or {}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    argv = case.build(tmp_path)
    before, model_before = _snapshot(tmp_path), hashlib.sha256(TINY.read_bytes()).hexdigest()

    def ring(*_):
        raise _Alarm(f"{case.name}: still running after 30 s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(30)
    try:
        status = cli(argv)
    except SystemExit as e:  # argparse refusals
        status = e.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    err = capsys.readouterr().err + "".join(f"warning: {w.message}\n" for w in recwarn)  # pytest keeps warnings
    assert status == case.status, err
    assert case.says in err and "Traceback" not in err, err
    after = _snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before, "an input file changed"
    assert hashlib.sha256(TINY.read_bytes()).hexdigest() == model_before


# ------------------------------------------------------------------ finished work is kept
def test_one_bad_file_costs_only_its_own_result(tmp_path, capsys):
    argv = _mixed(tmp_path, "--output", str(tmp_path / "out.json"))
    assert cli(argv) == 1
    rows = [json.loads(x) for x in (tmp_path / "out.json").read_text().splitlines()]
    assert [r["audio_filepath"] for r in rows] == [str(tmp_path / "good.wav")] * 2 and "pred_text" in rows[0]
    err = capsys.readouterr().err
    assert f"{tmp_path / 'm.json'}:2: " in err and "1 item(s) failed, 2 done" in err


def test_on_error_stop_ends_at_the_first_failure(tmp_path, capsys):
    assert cli(_mixed(tmp_path, "--on-error", "stop", "--output", str(tmp_path / "out.tsv"))) == 1
    assert len((tmp_path / "out.tsv").read_text().splitlines()) == 1


def test_eval_skips_unreadable_rows_and_says_so(tmp_path, capsys):
    _good(tmp_path)
    wav_header(tmp_path / "bad.wav", 1)
    m = manifest(tmp_path / "m.json", [row("good.wav"), row("bad.wav")])
    assert cli(["eval", "--manifest", str(m), "--model", str(TINY), "--output", str(tmp_path / "p.json")]) == 1
    out = capsys.readouterr()
    assert "failed" in out.out and "m.json:2:" in out.err
    assert len((tmp_path / "p.json").read_text().splitlines()) == 1


def test_interrupted_run_keeps_finished_records(tmp_path, capsys, monkeypatch):
    import harken.inference.inputs as inputs
    import harken.inference.pipeline as pipeline

    class OneAtATime(pipeline.Transcriber):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.window = 1

    real = inputs.load_audio

    def load(path, *a, **k):
        if Path(path).name == "stop.wav":
            raise KeyboardInterrupt
        return real(path, *a, **k)

    monkeypatch.setattr(pipeline, "Transcriber", OneAtATime)
    monkeypatch.setattr(inputs, "load_audio", load)
    good = _good(tmp_path)
    shutil.copy(good, tmp_path / "stop.wav")
    out = tmp_path / "out.tsv"
    assert cli(_transcribe(str(good), str(good), str(tmp_path / "stop.wav"), "--output", str(out))) == 130
    assert not out.exists() and len((tmp_path / "out.tsv.partial").read_text().splitlines()) == 2
    assert "finished record(s) are in" in capsys.readouterr().err


# ------------------------------------------------------------------ library-level guarantees
def test_config_file_alias_bomb_and_reference_bomb_refused(tmp_path):
    from harken.core.config import ConfigError, load_config, resolve

    (tmp_path / "c.yaml").write_bytes(b"model: {}\n" + ALIAS_BOMB)
    with pytest.raises(ConfigError, match="HARKEN_MAX_CONFIG_VALUES"):
        load_config(tmp_path / "c.yaml")
    refs = {"a0": "x" * 10, **{f"a{i}": "".join(["${a" + str(i - 1) + "}"] * 10) for i in range(1, 12)}}
    with pytest.raises(ConfigError, match="HARKEN_MAX_CONFIG"):
        resolve(refs)


def test_archive_tokenizer_never_reads_the_users_files_but_configs_on_disk_may(tmp_path):
    from harken.text.build import build_tokenizer

    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\nsecret\n")
    section = {"tokenizer": {"type": "wpe", "vocab_path": str(tmp_path / "vocab.txt")}}
    with pytest.raises(ValueError, match="never from paths on this machine"):
        build_tokenizer(section, {})
    assert build_tokenizer(section, {"vocab.txt": b"[PAD]\n[UNK]\nfine\n"}).vocab_size >= 1  # base name: a member
    assert "secret" in build_tokenizer(section, None).labels  # a training config on disk names its own files


def test_download_cache_is_keyed_by_url(tmp_path, monkeypatch):
    from harken.pretrained.catalog import resolve

    monkeypatch.setenv("HARKEN_CACHE", str(tmp_path / "cache"))
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    shutil.copy(TINY, tmp_path / "a" / "model.nemo")
    nemo_with(tmp_path / "b" / "model.nemo", _set("decoder.vocabulary", list(" abcdefghijklmnopqrstuvwxyz'")))
    one = resolve((tmp_path / "a" / "model.nemo").as_uri(), progress=False)
    two = resolve((tmp_path / "b" / "model.nemo").as_uri(), progress=False)
    assert one != two and one.read_bytes() != two.read_bytes()


@pytest.mark.parametrize("audio, says", [
    (np.zeros(100, dtype=bool), "must be numbers"), (np.zeros((2, 3, 4), dtype=np.float32), "shape"),
    (np.array([np.nan, 0.0], dtype=np.float32), "NaN"), (np.zeros(0, dtype=np.float32), "no samples"),
    (np.zeros(10, dtype=np.complex64), "must be numbers")])
def test_bad_arrays_are_refused(audio, says):
    from harken.inference.inputs import as_input

    with pytest.raises(ValueError, match=says):
        as_input(audio, 16000)


def test_integer_arrays_are_scaled_like_pcm():
    from harken.inference.inputs import as_input

    x = as_input(np.array([16384, -32768], dtype=np.int16), 16000).source
    assert x.dtype == np.float32 and list(x) == [0.5, -1.0]



def test_an_error_escaping_the_pipeline_costs_only_its_input():
    """Errors `GuardedInput` cannot catch (a long recording corrupt mid-way, a model error) fail the whole
    window; decode_each then goes one input at a time to find the culprit, and batches again after it."""
    from types import SimpleNamespace

    from harken.inference.isolation import decode_each

    class Windowed:  # the pipeline's contract: a window is decoded whole, then yielded in order
        model, window, progress, calls = SimpleNamespace(sample_rate=16000), 4, False, 0

        def decode(self, items):
            self.calls += 1
            for start in range(0, len(items), self.window):
                chunk = items[start:start + self.window]
                if any(i.source == "bad" for i in chunk):
                    raise RuntimeError("corrupt in the middle")
                yield from ((i, i.source, 1.0) for i in chunk)

    names = [f"f{k}" for k in range(10)]
    names[5] = names[8] = "bad"
    failures = []
    got = [seq for _, seq, _ in decode_each(Windowed(), names, lambda inp, msg: failures.append(msg) or True)]
    assert got == [n for n in names if n != "bad"]
    assert len(failures) == 2 and all(f.startswith("bad: RuntimeError: corrupt") for f in failures)
    stopped = list(decode_each(Windowed(), names, lambda inp, msg: False))
    assert [seq for _, seq, _ in stopped] == names[:5]
