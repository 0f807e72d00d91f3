"""sherpa-onnx (the PyPI wheel) runs harken's exports: CTC models (`from_nemo_ctc`) and transducers
(`from_transducer(model_type="nemo_transducer")`, RNNT and TDT).

sherpa-onnx computes its own features (kaldi-native-fbank), which are not NeMo's: a 25 ms window whatever the
model's (the shipped model and the QuartzNet/Jasper configs use 20 ms), frames centred half a hop later,
edges reflected instead of zero-padded, a periodic Hann window (its NeMo CTC loader) or Kaldi's "povey"
window with the mel range cut at 7600 Hz (its NeMo transducer loader), per-frame pre-emphasis, and the
normalisation's variance over n instead of n - 1. No export setting reaches those, so two things are
checked: (1) sherpa-onnx's text and token times equal harken's own decoding of the same exported graphs fed
with sherpa-onnx's front end (`sherpa_front_end` below, written from kaldi-native-fbank's documented
behaviour) -- that pins the graphs' inputs and outputs, the metadata, tokens.txt, the blank, TDT and the
normalisation as sherpa-onnx reads them; (2) on speech, sherpa-onnx's text is harken's (torch-identical)
text up to what the feature difference changes: measured 3 words in 67 on these 11 utterances.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import harken
from harken.decoding.ctc_runs import greedy_sequence
from harken.export import export
from harken.metrics.wer import corpus_wer

sherpa_onnx = pytest.importorskip("sherpa_onnx")
pytest.importorskip("onnxruntime")

from harken.runtime import load_recognizer  # noqa: E402

ROOT = Path(__file__).parent
NEMO = ROOT / "data" / "nemo"
SHIPPED = ROOT.parent / "harken" / "pretrained" / "models" / "harken_en_small.nemo"
SPOKEN = ["seven three nine one", "open the door", "she walked slowly along the river in the morning",
          "the captain looked at the sea and said nothing", "please call stella and ask her to bring these things",
          "turn left at the next corner", "the weather will be cold and windy tomorrow", "four eight two six"]


# ---------------------------------------------------------------------------------------------- sherpa's front end
def _slaney(f: float) -> float:
    return f * 3 / 200 if f < 1000 else 15 + math.log(f / 1000) * 27 / math.log(6.4)


def _slaney_hz(m: float) -> float:
    return m * 200 / 3 if m < 15 else 1000 * math.exp((m - 15) * math.log(6.4) / 27)


def sherpa_front_end(wave: np.ndarray, n_mels: int, transducer: bool, rate: int = 16000) -> np.ndarray:
    """[n_mels, frames] log-mel as sherpa-onnx computes it for NeMo models (25 ms / 10 ms frames, n_fft 512)."""
    hop, win, n_fft = rate // 100, rate * 25 // 1000, 512
    x, n = np.asarray(wave, dtype=np.float32), len(wave)
    starts = np.arange((n + hop // 2) // hop) * hop + hop // 2 - win // 2  # frames centred at (t + 1/2) hops
    idx = starts[:, None] + np.arange(win)[None]
    idx = np.where(idx < 0, -idx - 1, idx)
    idx = np.where(idx >= n, 2 * n - 1 - idx, idx)  # reflected at both edges
    frames = x[idx].astype(np.float64)
    frames[:, 1:] -= 0.97 * frames[:, :-1]  # pre-emphasis inside each frame
    frames[:, 0] *= 0.03
    i = np.arange(win)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * i / (win - 1))) ** 0.85 if transducer else \
        0.5 - 0.5 * np.cos(2 * np.pi * i / win)  # "povey" (symmetric) / periodic "hann"
    power = np.abs(np.fft.rfft(frames * window, n_fft, axis=1)) ** 2
    top = rate / 2 - 400 if transducer else rate / 2
    edges = [_slaney_hz(_slaney(0.0) + k * (_slaney(top) - _slaney(0.0)) / (n_mels + 1)) for k in range(n_mels + 2)]
    hz = np.arange(n_fft // 2 + 1) * rate / n_fft
    bank = np.zeros((n_mels, len(hz)))
    for b, (lo, mid, hi) in enumerate(zip(edges, edges[1:], edges[2:])):
        tri = np.where(hz <= mid, (hz - lo) / (mid - lo), (hi - hz) / (hi - mid)) * 2 / (hi - lo)
        bank[b] = np.where((hz > lo) & (hz < hi), tri, 0.0)
    mel = np.log(np.maximum(power @ bank.T, np.finfo(np.float32).eps))
    std = np.sqrt(np.maximum((mel**2).mean(0) - mel.mean(0) ** 2, 0.0))
    return ((mel - mel.mean(0)) / (std + 1e-5)).T.astype(np.float32)


# ---------------------------------------------------------------------------------------------- helpers
def _sherpa_results(recognizer, files: list[str]) -> list:
    out = []
    for f in files:
        wave, rate = sf.read(f, dtype="float32")
        stream = recognizer.create_stream()
        stream.accept_waveform(rate, wave)
        recognizer.decode_stream(stream)
        out.append(stream.result)
    return out


def _ctc_on_sherpa_features(rec, f: str) -> str:
    feats = sherpa_front_end(sf.read(f, dtype="float32")[0], rec.front_end.features, transducer=False)
    lp, n = rec.session.run(None, {"audio_signal": feats[None], "length": np.array([feats.shape[1]])})
    return rec.decode_text(greedy_sequence(lp[0, : int(n[0])], rec.blank_id))


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> list[str]:
    files = sorted(str(p) for p in (NEMO / "ctc_timestamps").glob("utt*.wav"))
    if shutil.which("espeak-ng"):
        from harken.synth.espeak import speak

        folder = tmp_path_factory.mktemp("spoken")
        for i, text in enumerate(SPOKEN):
            sf.write(folder / f"s{i}.wav", speak(text, "en-gb-x-gbclan+m5", speed=160, pitch=50, sample_rate=16000),
                     16000)
            files.append(str(folder / f"s{i}.wav"))
    return files


# ---------------------------------------------------------------------------------------------- CTC
def test_sherpa_onnx_transcribes_the_shipped_ctc_export(tmp_path, spoken):
    model = harken.load(SHIPPED)
    path = export(model, tmp_path / "model.onnx")
    sherpa = sherpa_onnx.OfflineRecognizer.from_nemo_ctc(model=str(path), tokens=str(tmp_path / "tokens.txt"),
                                                         num_threads=1, feature_dim=64)
    texts = [r.text for r in _sherpa_results(sherpa, spoken)]
    rec = load_recognizer(path)
    assert texts == [_ctc_on_sherpa_features(rec, f) for f in spoken]  # (1): the same graph, read the same way
    ours = [t.text for t in harken.Transcriber(model)(spoken)]
    assert [t.text for t in rec.transcribe(spoken)] == ours
    # (2): measured 8 of 11 identical, 3 words in 67 changed by sherpa-onnx's features (e.g. "cet" -> "set")
    assert corpus_wer(ours, texts) <= 0.08 and sum(a == b for a, b in zip(ours, texts)) >= len(spoken) * 0.6


@pytest.mark.parametrize("name", ["quartznet_tiny", "fastconformer_hybrid_tdt_ctc_bpe"])
def test_sherpa_onnx_reads_character_and_hybrid_ctc_exports(tmp_path, name):
    """A character model of random weights (its decisions hang on small margins), and a hybrid's CTC head (its
    model_type). jasper_dr is left out: on its random weights, whose decisions hang on margins down to 0.0015,
    sherpa-onnx's text differs from this emulation's in 2 of 66 characters (not tracked down)."""
    model = harken.load(NEMO / name / "model.nemo")
    if name == "quartznet_tiny":
        path = export(model, tmp_path / "model.onnx")
    else:
        path = export(model, tmp_path, ctc_head=True) / "model.onnx"
    rec = load_recognizer(path)
    sherpa = sherpa_onnx.OfflineRecognizer.from_nemo_ctc(model=str(path), tokens=str(tmp_path / "tokens.txt"),
                                                         num_threads=1, feature_dim=rec.front_end.features)
    files = [str(NEMO / name / f) for f in ("probe.wav", "probe2_2s.wav") if (NEMO / name / f).is_file()]
    texts = [r.text for r in _sherpa_results(sherpa, files)]
    assert texts == [_ctc_on_sherpa_features(rec, f) for f in files] and all(texts)


# ---------------------------------------------------------------------------------------------- transducers
@pytest.mark.parametrize("name", ["fastconformer_rnnt_bpe", "fastconformer_tdt_bpe"])
def test_sherpa_onnx_transcribes_transducer_exports(tmp_path, name):
    model = harken.load(NEMO / name / "model.nemo")
    folder = export(model, tmp_path)
    sherpa = sherpa_onnx.OfflineRecognizer.from_transducer(
        encoder=str(folder / "encoder.onnx"), decoder=str(folder / "decoder.onnx"),
        joiner=str(folder / "joiner.onnx"), tokens=str(folder / "tokens.txt"), num_threads=1, feature_dim=80,
        model_type="nemo_transducer")
    files = [str(NEMO / name / f) for f in ("probe.wav", "probe2_2s.wav")]
    rec = load_recognizer(folder)
    for result, f in zip(_sherpa_results(sherpa, files), files):
        feats = sherpa_front_end(sf.read(f, dtype="float32")[0], 80, transducer=True)
        encoded, lengths = rec.encoder.run(None, {"audio_signal": feats[None], "length": np.array([feats.shape[1]])})
        seq = rec.search(encoded[0], int(lengths[0]))
        assert result.text == rec.decode_text(seq) and len(seq.token_ids) >= 3
        assert np.allclose(result.timestamps, np.array(seq.frames) * rec.frame_shift, atol=1e-6)
        if name == "fastconformer_tdt_bpe":  # sherpa-onnx read it as TDT (from the url key): token durations
            assert [round(d / rec.frame_shift) for d in result.durations] == seq.durations
