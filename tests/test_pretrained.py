"""The real download code against a local HTTP server that serves a fixture .nemo (with Range support)."""

import hashlib
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

import harken
from harken.pretrained import catalog
from harken.pretrained.catalog import ModelCard, resolve
from harken.pretrained.download import DownloadError, fetch


class _Server:
    """Serves `files` {path: bytes}; honours Range; can cut a response short once (`cut_after`)."""

    def __init__(self, files):
        self.files, self.cut_after, self.requests = files, None, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    body, server.cut_after = body[: server.cut_after], None
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def served(nemo_fixture, tmp_path, monkeypatch):
    data = (nemo_fixture("quartznet_tiny") / "model.nemo").read_bytes()
    server = _Server({"/tiny.nemo": data})
    card = ModelCard("tiny_test", f"{server.url}/tiny.nemo", "quartznet (characters)", True,
                     sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setitem(catalog.CATALOG, "tiny_test", card)
    monkeypatch.setenv("HARKEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HARKEN_OFFLINE", raising=False)
    yield server, data, card
    server.httpd.shutdown()


def test_fresh_download_then_cached_reuse(served, tmp_path, nemo_fixture):
    server, data, _ = served
    model = harken.from_pretrained("tiny_test", progress=False)
    assert (tmp_path / "cache" / "models" / "tiny_test.nemo").read_bytes() == data
    reference = harken.load(str(nemo_fixture("quartznet_tiny") / "model.nemo"))
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)
    n = len(server.requests)
    harken.from_pretrained("tiny_test", progress=False)
    assert len(server.requests) == n  # served from the cache


def test_interrupted_download_resumes_with_range(served, tmp_path):
    server, data, card = served
    server.cut_after = 100_000
    with pytest.raises(DownloadError, match="run again to resume"):
        resolve("tiny_test", progress=False)
    part = tmp_path / "cache" / "models" / "tiny_test.nemo.part"
    assert part.stat().st_size == 100_000
    assert not (tmp_path / "cache" / "models" / "tiny_test.nemo").exists()  # never a half file in place
    path = resolve("tiny_test", progress=False)
    assert server.requests[-1] == ("/tiny.nemo", "bytes=100000-")
    assert path.read_bytes() == data and not part.exists()


def test_wrong_checksum_refused(served, tmp_path, monkeypatch):
    server, data, card = served
    monkeypatch.setitem(catalog.CATALOG, "tiny_test", ModelCard(card.name, card.url, card.family, True, "0" * 64))
    with pytest.raises(DownloadError, match="checksum mismatch"):
        resolve("tiny_test", progress=False)
    assert not list((tmp_path / "cache" / "models").iterdir())  # nothing kept


def test_offline_mode_says_what_is_missing(served, monkeypatch):
    server, _, card = served
    monkeypatch.setenv("HARKEN_OFFLINE", "1")
    with pytest.raises(DownloadError, match=r"offline mode.*tiny_test is not in the cache.*tiny_test\.nemo"):
        resolve("tiny_test", progress=False)
    assert server.requests == []


def test_paths_file_urls_and_unknown_names(tmp_path, nemo_fixture, monkeypatch):
    monkeypatch.setenv("HARKEN_CACHE", str(tmp_path / "cache"))
    source = nemo_fixture("quartznet_tiny") / "model.nemo"
    assert resolve(str(source)) == source
    copy = tmp_path / "copy.nemo"
    shutil.copy(source, copy)
    assert resolve(copy.as_uri(), progress=False).read_bytes() == source.read_bytes()
    with pytest.raises(KeyError, match="did you mean stt_en_quartznet15x5"):
        resolve("stt_en_quartznet15x6")
    server = _Server({})
    try:
        with pytest.raises(DownloadError, match="HTTP 404"):
            fetch(f"{server.url}/none.nemo", tmp_path / "none.nemo", progress=False)
    finally:
        server.httpd.shutdown()
