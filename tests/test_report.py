"""The data report is one self-contained HTML file whose pictures are valid PNGs."""

import base64
import re
import struct
import subprocess
import sys

from harken.data.manifest import read_manifest


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
