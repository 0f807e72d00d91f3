"""The result pages as a browser shows them: each page is loaded in headless Chromium inside a probe page
(same folder, file access allowed) whose script clicks and measures the report page and writes what it found
into its own DOM, which `--dump-dom` prints. Skipped where Debian's chromium is not installed."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.test_report import edited_manifest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed (apt-get install "
                                                                 "chromium)")

PROBE = """<!doctype html><meta charset=utf-8><iframe id=f src="{page}" width=1280 height=1000></iframe>
<pre id=out></pre><script>
document.getElementById('f').onload = () => {{
  const d = document.getElementById('f').contentDocument, out = {{}};
  try {{
    const images = [...d.images];
    out.images = images.length;
    out.decoded = images.filter(i => i.complete && i.naturalWidth > 0 && i.naturalWidth === +i.getAttribute('width')
                                     && i.getBoundingClientRect().height > 0).length;
    {script}
  }} catch (e) {{ out.error = String(e); }}
  document.getElementById('out').textContent = JSON.stringify(out);
}};
</script>"""

EVAL_SCRIPT = """
  const wers = () => [...d.querySelectorAll('table.rows tbody tr')].map(r => +r.dataset.wer);
  const order = () => [...d.querySelectorAll('table.rows tbody tr')].map(r => +r.dataset.n);
  out.before = wers();
  const th = d.querySelector('th[data-key=wer]');
  th.click(); out.descending = wers(); out.first = th.getAttribute('aria-sort');
  th.click(); out.ascending = wers(); out.second = th.getAttribute('aria-sort');
  const n = d.querySelector('th[data-key=n]');
  n.click(); n.click(); out.restored = order(); out.wer_after = th.getAttribute('aria-sort');
  out.spans = {}; out.background = {};
  for (const k of ['sub', 'del', 'ins']) {
    const s = [...d.querySelectorAll('td span.' + k)];
    out.spans[k] = s.length;
    out.background[k] = s.length ? getComputedStyle(s[0]).backgroundColor : '';
  }
  out.struck = [...d.querySelectorAll('td span.del')].map(s => getComputedStyle(s).textDecorationLine);
  const conf = [...d.querySelectorAll('.hyp [data-c]')];
  out.confidence = conf.length;
  out.underlines = conf.map(s => getComputedStyle(s).borderBottomWidth + ' ' + getComputedStyle(s).borderBottomColor);
  out.low = conf.filter(s => +s.dataset.c < 0.6).map(s => getComputedStyle(s).borderBottomColor);
  out.playable = [...d.querySelectorAll('audio')].map(a => a.canPlayType(a.src.slice(5, a.src.indexOf(';'))));
"""

RUN_SCRIPT = """
  out.captions = [...d.querySelectorAll('figcaption')].map(f => f.textContent);
  out.ticks = [...d.querySelectorAll('.plot span')].map(s => s.getBoundingClientRect().width > 0).filter(x => x).length;
  out.metrics = [...d.querySelectorAll('table.m tr')].map(r => r.cells[0].textContent);
  out.config = d.querySelector('pre').textContent;
"""


def probe(page: Path, script: str, tmp: Path, fragment: str = "") -> dict:
    wrapper = page.with_name(f"probe_{page.name}")
    wrapper.write_text(PROBE.format(page=page.name + fragment, script=script), encoding="utf-8")
    run = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--mute-audio",
                          "--allow-file-access-from-files", f"--user-data-dir={tmp / 'profile'}", "--dump-dom",
                          wrapper.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="out">(.*?)</pre>', run.stdout, re.S)
    assert found and found.group(1), f"no probe result; chromium said: {run.stderr[-1500:]}"
    out = json.loads(html.unescape(found.group(1)))
    assert "error" not in out, f"the probe script failed on {page.name}: {out['error']}"
    return out


def test_eval_page_in_chromium(espeak_corpus, tmp_path):
    import harken
    from harken.metrics.evaluate import evaluate
    from harken.report.eval_page import build_eval_report

    model = harken.from_pretrained("harken_en_small", progress=False)
    result = evaluate(model, edited_manifest(espeak_corpus, tmp_path / "edited.json"), details=True)
    page = build_eval_report(result, tmp_path / "eval.html", "harken_en_small", model.sample_rate)
    out = probe(page, EVAL_SCRIPT, tmp_path)

    assert out["images"] == out["decoded"] == 2  # WER by duration, WER by voice
    wers = [p["wer"] for p in result.predictions]
    assert out["before"] == wers
    assert out["descending"] == sorted(wers, reverse=True) and out["first"] == "descending"
    assert out["ascending"] == sorted(wers) and out["second"] == "ascending"
    assert out["restored"] == [1, 2, 3, 4] and out["wer_after"] is None
    assert out["descending"] != out["ascending"]  # the rows differ in WER, so sorting moved them
    # the edited references give every kind of edit; each kind is drawn with its own background
    assert min(out["spans"].values()) >= 1, out["spans"]
    assert len(set(out["background"].values())) == 3 and "rgba(0, 0, 0, 0)" not in out["background"].values()
    assert out["struck"] == ["line-through"] * out["spans"]["del"]
    words = sum(len(p["pred_text"].split()) for p in result.predictions)
    assert out["confidence"] == words
    assert all(u.startswith("3px rgb(") for u in out["underlines"])
    assert all(c.startswith("rgb(") and int(c[4:].split(",")[0]) > 150 for c in out["low"])  # doubtful: red
    assert out["playable"] == ["probably"] * 4
    opened = probe(page, "out.wers = [...d.querySelectorAll('.rows tbody tr')].map(r => +r.dataset.wer);", tmp_path,
                   "#sort=wer")  # a link that opens the page worst first
    assert opened["wers"] == sorted(wers, reverse=True)


def test_run_page_in_chromium(espeak_corpus, tmp_path):
    from harken.report.run_page import build_run_report
    from harken.training.run import train
    from tests.conftest import tiny_config

    cfg = tiny_config(espeak_corpus.manifests["train"], espeak_corpus.manifests["val"], max_steps=3, max_epochs=3,
                      check_val_every_n_epoch=1, num_sanity_val_steps=0)
    cfg["exp_manager"] = {"create_tensorboard_logger": False}
    train(cfg, out=str(tmp_path / "run"), progress=False)
    out = probe(build_run_report(tmp_path / "run", tmp_path / "run" / "report.html"), RUN_SCRIPT, tmp_path)

    assert out["captions"] == ["loss", "validation WER and CER", "learning rate"]
    assert out["images"] == out["decoded"] == 3
    assert out["ticks"] >= 12  # tick labels and values laid out with a size
    assert {"steps", "train_loss (last)", "val_wer (last)", "val_wer (best)", "model.nemo"} <= set(out["metrics"])
    assert out["config"] == (tmp_path / "run" / "config.yaml").read_text()
