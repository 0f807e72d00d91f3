"""The English model shipped with harken: bundled, in the catalog, and the default of `harken transcribe`."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from harken.cli.main import main as cli
from harken.data.manifest import ManifestEntry, write_manifest
from harken.inference.precision import bfloat16_supported
from harken.metrics.wer import corpus_wer
from harken.pretrained.catalog import CATALOG, DEFAULT_MODEL, resolve
from harken.synth.espeak import speak

# said by a voice the model never heard in training (held-out accent and variant)
SAMPLES = [
    ("seven three nine one", "seven three nine one"),
    ('<say-as interpret-as="characters">denver</say-as>', "d e n v e r"),
    ("open the door", "open the door"),
    ("she walked slowly along the river in the morning", "she walked slowly along the river in the morning"),
    ("the captain looked at the sea and said nothing", "the captain looked at the sea and said nothing"),
]


def test_bundled_model_is_in_the_catalog_and_small_enough():
    card = CATALOG[DEFAULT_MODEL]
    path = resolve(DEFAULT_MODEL)
    assert card.bundled and path.is_file()
    assert path.stat().st_size <= 25 * 2**20


@pytest.fixture
def sample_files(tmp_path) -> list[str]:
    files = []
    for i, (spoken, _) in enumerate(SAMPLES):
        path = tmp_path / f"s{i}.wav"
        sf.write(path, speak(spoken, "en-gb-x-gbclan+m5", speed=160, pitch=50, sample_rate=16000), 16000)
        files.append(str(path))
    return files


def test_transcribe_without_model_uses_the_shipped_one(sample_files, capsys):
    files = sample_files
    assert cli(["transcribe", *files]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    hyps = dict(line.split("\t", 1) for line in lines)
    assert list(hyps) == files
    assert all(h.strip() for h in hyps.values()), hyps  # no empty outputs
    wer = corpus_wer([ref for _, ref in SAMPLES], [hyps[f] for f in files])
    assert wer <= 0.25, (wer, hyps)


@pytest.mark.skipif(not bfloat16_supported(), reason="this CPU has no native bfloat16")
def test_transcribe_in_bfloat16(sample_files, capsys):
    assert cli(["transcribe", "--dtype", "bfloat16", *sample_files]) == 0
    hyps = dict(line.split("\t", 1) for line in capsys.readouterr().out.strip().splitlines())
    assert corpus_wer([ref for _, ref in SAMPLES], [hyps[f] for f in sample_files]) <= 0.25, hyps


def test_dtype_is_refused_for_the_onnx_runtime(sample_files, tmp_path, capsys):
    assert cli(["transcribe", "--runtime", "onnx", "--model", str(tmp_path), "--dtype", "bfloat16",
                sample_files[0]]) != 0
    assert "--dtype is for the torch runtime" in capsys.readouterr().err


def test_eval_without_model_measures_the_shipped_one(sample_files, tmp_path, capsys):
    manifest = tmp_path / "m.json"
    write_manifest(manifest, [ManifestEntry(f, 1.0, ref) for f, (_, ref) in zip(sample_files, SAMPLES)])
    assert cli(["eval", "--manifest", str(manifest)]) == 0
    wer_line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("WER"))
    assert float(wer_line.split()[1].rstrip("%")) <= 25.0, wer_line


def test_models_list_marks_the_bundled_default(capsys):
    assert cli(["models", "list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(DEFAULT_MODEL))
    assert "bundled (default)" in line


def test_shipped_model_is_deterministic_on_silence():
    import harken

    model = harken.from_pretrained(DEFAULT_MODEL)
    silence = np.zeros(16000, dtype=np.float32)
    assert model.transcribe([silence]) == model.transcribe([silence])


def test_eval_with_beam_search_and_an_lm_from_the_cli(sample_files, tmp_path, capsys):
    manifest = tmp_path / "m.json"
    write_manifest(manifest, [ManifestEntry(f, 1.0, ref) for f, (_, ref) in zip(sample_files, SAMPLES)])
    books = tmp_path / "books.txt"
    books.write_text("She walked slowly along the river.\nThe captain looked at the sea and said nothing.\n"
                     "open the window\nclose the door\none two three four five six seven eight nine\n"
                     "a b c d e f g h i j k l m n o p q r s t u v w x y z\n")  # the domain, not the samples
    arpa = tmp_path / "lm.arpa"
    assert cli(["lm", "build", str(books), "--out", str(arpa)]) == 0

    def wer_of(*options: str) -> float:
        assert cli(["eval", "--manifest", str(manifest), *options]) == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("WER"))
        return float(line.split()[1].rstrip("%"))

    greedy, fused = wer_of(), wer_of("--lm", str(arpa), "--beam-size", "8")
    assert fused <= greedy and fused <= 25.0, (greedy, fused)
    assert cli(["eval", "--manifest", str(manifest), "--beam-size", "0"]) == 1
    assert "--beam-size must be at least 1" in capsys.readouterr().err
