"""The report pages are self-contained HTML files whose pictures are valid PNGs and whose numbers are the
ones scored: the data report, the eval page (`harken eval --report`) and the run page (`harken report`).
tests/test_report_pages.py renders them in headless Chromium."""

import base64
import csv
import html
import io
import json
import re
import struct
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harken.data.manifest import read_manifest
from harken.metrics.wer import word_errors


def test_report_embeds_players_pictures_and_histograms(espeak_corpus, tmp_path):
    manifest = espeak_corpus.manifests["train"]
    out = tmp_path / "report.html"
    run = subprocess.run([sys.executable, "-m", "harken", "data", "report", str(manifest), str(out), "--sample", "4"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    page = out.read_text()
    assert page.count("<audio controls") == 4
    images = re.findall(r"<img alt='([a-z-]+)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'>", page)
    assert [alt for alt, _ in images[:3]] == ["waveform", "spectrogram", "log-mel"] and len(images) == 12
    for _, data in images:
        raw = base64.b64decode(data)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", raw[16:24])
        assert width > 10 and height > 10
    shown = [t for t in (e.text for e in read_manifest(manifest)) if f"<td class=t>{t}</td>" in page]
    assert len(shown) >= 3  # transcripts of the sampled rows (texts may repeat)
    assert page.count("<svg") == 2 and "http" not in page.split("<body>")[1][:2000]  # nothing fetched remotely


# ---- result pages: `harken eval --report` and `harken report RUN_DIR` ----

TAG = re.compile(r"<[^>]+>")


def edited_manifest(corpus, out: Path) -> Path:
    """The test split with references edited so that a model that gets them right shows each kind of error:
    row 1 gains a word (a deletion), row 2 loses its first word (an insertion), row 3 ends in another word
    (a substitution)."""
    manifest = Path(corpus.manifests["test"])
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    for row in rows:
        row["audio_filepath"] = str((manifest.parent / row["audio_filepath"]).resolve())
    rows[0]["text"] += " zebra"
    rows[1]["text"] = rows[1]["text"].split(" ", 1)[1]
    rows[2]["text"] = rows[2]["text"].rsplit(" ", 1)[0] + " zebra"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def cli(*args: str) -> subprocess.CompletedProcess:
    """`harken ARGS` in this process (the same entry point as the command, without a second torch import)."""
    from harken.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(["harken", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def eval_page(espeak_corpus, tmp_path_factory):
    """`harken eval --report` with the shipped model: (page path, prediction rows of --output)."""
    tmp = tmp_path_factory.mktemp("eval_page")
    manifest = edited_manifest(espeak_corpus, tmp / "edited.json")
    page, preds = tmp / "page.html", tmp / "preds.json"
    run = cli("eval", "--manifest", str(manifest), "--report", str(page), "--output", str(preds))
    assert run.returncode == 0, run.stderr
    assert f"report: {page}" in run.stdout
    return page, [json.loads(line) for line in preds.read_text().splitlines()]


def page_rows(page: str) -> list[dict]:
    """Each table row of an eval page: its data attributes and its reference and hypothesis lines."""
    out = []
    for attrs, cells in re.findall(r"<tr (data-n=[^>]*)>(.*?)</tr>", page, re.S):
        row = {k: float(v) for k, v in re.findall(r"data-(\w+)=([\d.]+)", attrs)}
        row["ref"] = re.search(r"<div class=ref>(.*?)</div>", cells).group(1)
        row["hyp"] = re.search(r"<div class=hyp>(.*?)</div>", cells).group(1)
        row["audio"] = re.search(r"src='data:(audio/[a-z]+);base64,([A-Za-z0-9+/=]+)'", cells).groups()
        out.append(row)
    return out


def test_eval_report_rows_show_the_scored_words(eval_page):
    page, preds = eval_page
    rows = page_rows(page.read_text())
    assert [r["n"] for r in rows] == [1, 2, 3, 4] and len(preds) == 4
    kinds = {"sub": 0, "del": 0, "ins": 0}
    for row, pred in zip(rows, preds):
        ref, hyp = TAG.sub("", row["ref"]).split(), TAG.sub("", row["hyp"]).split()
        assert hyp == pred["pred_text"].split()
        errors = word_errors(" ".join(ref), pred["pred_text"])
        assert round(errors.rate, 4) == row["wer"] == pred["wer"]  # the page's reference is the one scored
        assert row["ref"].count("class=sub") == row["hyp"].count("class=sub") == errors.substitutions
        assert row["ref"].count("class=del") == errors.deletions and "class=del" not in row["hyp"]
        assert row["hyp"].count("class=ins") == errors.insertions and "class=ins" not in row["ref"]
        kinds["sub"] += errors.substitutions
        kinds["del"] += errors.deletions
        kinds["ins"] += errors.insertions
        assert row["hyp"].count("data-c=") == len(hyp)  # every hypothesis word coloured by its confidence
        assert row["dur"] == pred["duration"]
        mime, data = row["audio"]
        audio, rate = sf.read(io.BytesIO(base64.b64decode(data)))
        assert mime in ("audio/mpeg", "audio/flac") and rate == 16000
        assert abs(len(audio) / rate - pred["duration"]) < 0.15  # MP3 frames pad the end a little
    assert all(kinds.values()), kinds  # the edited references give each kind of error
    assert "zebra" in rows[0]["ref"] and "class=del" in rows[0]["ref"]


def test_eval_report_plots_cover_every_row(eval_page):
    page, preds = eval_page
    text = page.read_text()
    images = re.findall(r"<img alt='([^']+)' width=(\d+) height=(\d+) [^>]*src='data:image/png;base64,([^']+)'", text)
    assert [alt for alt, *_ in images] == ["WER by duration", "WER by voice"]
    for _, width, height, data in images:
        raw = base64.b64decode(data)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", raw[16:24]) == (int(width), int(height))
    for voice in {p["voice"] for p in preds}:  # corpus WER of each voice, as the bar's label says
        mine = [p for p in preds if p["voice"] == voice]
        total = sum(word_errors(p["text"], p["pred_text"]).errors for p in mine)
        words = sum(len(p["text"].split()) for p in mine)
        assert f">{voice}</span>" in text and f">{100 * total / words:.1f}% ({len(mine)} utt.)</span>" in text
    subs = re.search(r"Most frequent substitutions \((\d+) in all\)", text)
    assert int(subs.group(1)) >= 1
    assert "<td class=t>zebra</td><td>&rarr;</td>" in text  # the edited last word of row 3
    assert "http" not in text.split("<body>")[1]  # nothing fetched from elsewhere


def test_eval_report_samples_at_most_report_max_rows(espeak_corpus, tmp_path):
    import harken
    from harken.metrics.evaluate import evaluate
    from harken.report.eval_page import build_eval_report

    model = harken.from_pretrained("harken_en_small", progress=False)
    result = evaluate(model, espeak_corpus.manifests["test"], details=True)
    page = build_eval_report(result, tmp_path / "p.html", "m", model.sample_rate, max_rows=2).read_text()
    assert len(page_rows(page)) == 2 and "a random sample of 2 of 4 rows" in page
    assert page.count("utt.)</span>") >= 2  # the plots still count every row
    assert f"{100 * result.wer:.2f}% WER" in page.split("</title>")[0]
    with pytest.raises(ValueError, match="details=True"):
        build_eval_report(evaluate(model, espeak_corpus.manifests["test"]), tmp_path / "q.html", "m", 16000)
    assert not (tmp_path / "q.html").exists()


def test_eval_report_is_not_written_over_a_file_or_the_output(eval_page, tmp_path):
    page, _ = eval_page
    before = page.read_bytes()
    manifest = str(page.parent / "edited.json")
    run = cli("eval", "--manifest", manifest, "--report", str(page))
    assert run.returncode == 1 and run.stderr.count("\n") == 1
    assert "page.html exists" in run.stderr and "--overwrite" in run.stderr and page.read_bytes() == before
    same = str(tmp_path / "x.json")
    run = cli("eval", "--manifest", manifest, "--report", same, "--output", same)
    assert run.returncode == 1 and "is the --output file" in run.stderr
    run = cli("eval", "--manifest", manifest, "--report", manifest, "--overwrite")
    assert run.returncode == 1 and "one of the inputs" in run.stderr


def test_word_diff_marks_each_edit_and_drops_mismatched_confidences():
    from harken.report.diff import word_diff

    d = word_diff("the cat sat on mat", "the bat sat on the mat", [0.9, 0.3, 1.0, 1.0, 0.6, 1.0])
    assert d.pairs == [("the", "the"), ("cat", "bat"), ("sat", "sat"), ("on", "on"), (None, "the"), ("mat", "mat")]
    assert "<span class=sub title='said: bat'>cat</span>" in d.reference
    assert re.search(r"<span class=sub title='reference: cat; confidence 0.30' data-c=0.30 [^>]*>bat</span>",
                     d.hypothesis)
    assert d.hypothesis.count("class=ins") == 1 and d.hypothesis.count("data-c=") == 6
    d = word_diff("a b c", "a c", [0.5])  # one confidence for two words: not shown rather than misplaced
    assert d.reference == "a <span class=del>b</span> c" and d.hypothesis == "a c"
    d = word_diff("x <y>", "x &", None)
    assert "&lt;y&gt;" in d.reference and "&amp;" in d.hypothesis


def test_line_chart_is_a_png_of_the_stated_size_with_its_ticks():
    from harken.report.charts import line_chart

    html_text = line_chart("loss", {"train": ([0, 1, 2, 3], [100.0, 30.0, 9.0, float("nan")]),
                                    "val": ([1, 3], [50.0, 20.0])}, log_y=True, width=300, height=120)
    data = re.search(r"base64,([^']+)'", html_text).group(1)
    raw = base64.b64decode(data)
    assert struct.unpack(">II", raw[16:24]) == (300, 120)
    ticks = re.findall(r"<span style='[^']*'>([^<]+)</span>", html_text)
    assert {"10", "20", "50", "100"} <= set(ticks) and {"0", "1", "2", "3"} <= set(ticks)
    assert "<i style='background:#1f77b4'></i>train" in html_text and "val" in html_text
    assert line_chart("empty", {"a": ([], [])}) == "" and line_chart("none", {"a": ([1], [-1.0])}, log_y=True) == ""
    steps = np.arange(200_000)
    noisy = 100 / (1 + steps / 1000) * np.exp(np.random.default_rng(0).normal(0, 0.3, len(steps)))
    start = time.perf_counter()
    long = line_chart("a long run", {"train_loss": (steps.tolist(), noisy.tolist())}, log_y=True)
    assert time.perf_counter() - start < 5 and ">200k</span>" in long  # thinned to the picture's columns


# ---- the run page ----

@pytest.fixture(scope="module")
def tiny_run(espeak_corpus, tmp_path_factory) -> Path:
    from harken.training.run import train
    from tests.conftest import tiny_config

    run_dir = tmp_path_factory.mktemp("tiny_run") / "run"
    cfg = tiny_config(espeak_corpus.manifests["train"], espeak_corpus.manifests["val"], max_steps=4, max_epochs=4,
                      check_val_every_n_epoch=2, num_sanity_val_steps=0)
    cfg["exp_manager"] = {"create_tensorboard_logger": False}
    train(cfg, out=str(run_dir), progress=False)
    return run_dir


def test_run_report_shows_curves_final_metrics_and_config(tiny_run):
    run = cli("report", str(tiny_run))
    assert run.returncode == 0, run.stderr
    page = (tiny_run / "report.html").read_text()
    images = re.findall(r"<img alt='([^']+)' width=(\d+) height=(\d+) [^>]*src='data:image/png;base64,([^']+)'", page)
    assert [alt for alt, *_ in images] == ["loss", "validation WER and CER", "learning rate"]
    for _, width, height, data in images:
        raw = base64.b64decode(data)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", raw[16:24]) == (int(width), int(height))
    with (tiny_run / "logs" / "csv" / "version_0" / "metrics.csv").open() as f:
        logged = list(csv.DictReader(f))
    val = [(int(r["step"]), float(r["val_wer"])) for r in logged if r["val_wer"]]
    assert len(val) == 2
    assert f"<td>val_wer (last)</td><td>{val[-1][1]:.4g} at step {val[-1][0]}</td>" in page
    best = min(val, key=lambda sv: sv[1])
    assert f"<td>val_wer (best)</td><td>{best[1]:.4g} at step {best[0]}</td>" in page
    assert "<td>steps</td><td>4</td>" in page and "<td>model.nemo</td><td>" in page
    assert html.escape((tiny_run / "config.yaml").read_text()) in page


def test_run_report_refuses_to_overwrite_and_non_run_folders(tiny_run, tmp_path):
    out = tmp_path / "r.html"
    out.write_text("mine")
    run = cli("report", str(tiny_run), "--out", str(out))
    assert run.returncode == 1 and "r.html exists" in run.stderr and out.read_text() == "mine"
    assert cli("report", str(tiny_run), "--out", str(out), "--overwrite").returncode == 0
    assert out.read_text().startswith("<!doctype html>")
    run = cli("report", str(tmp_path))
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and "not a harken run folder" in run.stderr
    run = cli("report", str(tmp_path / "nowhere"))
    assert run.returncode == 1 and "not a folder" in run.stderr


def test_run_metrics_of_a_resumed_run_join_its_versions(tmp_path):
    from harken.report.run_page import read_metrics

    for version, text in (("version_0", "step,train_loss,val_wer\n0,5.0,\n1,4.0,\n1,,0.9\n2,3.5,\n"),
                          ("version_1", "step,train_loss,val_wer\n2,3.0,\n3,2.0,\n3,,0.5\n")):
        (tmp_path / "logs" / "csv" / version).mkdir(parents=True)
        (tmp_path / "logs" / "csv" / version / "metrics.csv").write_text(text)
    metrics = read_metrics(tmp_path)
    assert metrics == {"train_loss": [(0, 5.0), (1, 4.0), (2, 3.0), (3, 2.0)], "val_wer": [(1, 0.9), (3, 0.5)]}
    (tmp_path / "logs" / "csv" / "version_1" / "metrics.csv").write_text("step,train_loss\n4,abc\n")
    with pytest.raises(ValueError, match=r"version_1/metrics.csv:2: train_loss is not a number"):
        read_metrics(tmp_path)
