"""`harken data report MANIFEST OUT.html`: a self-contained page to look at a dataset.

For a sample of rows: file name, an audio player (the audio embedded), duration, transcript, waveform,
linear spectrogram and the model front end's log-mel spectrogram; plus duration and character
histograms for the whole manifest. One file, no server, no account.
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from harken.audio.io import load_audio, wav_bytes
from harken.audio.mel import MelSpectrogramPreprocessor
from harken.core.atomic import atomic_write_text
from harken.data.manifest import iter_manifest
from harken.report.images import heatmap_image, png, waveform_image

STYLE = """body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:6px;vertical-align:top;text-align:left}img{display:block;margin:2px 0}
.t{font-family:monospace;font-size:15px}.h{display:flex;gap:40px;flex-wrap:wrap}small{color:#666}"""


def build_report(manifest: str | Path, out: str | Path, sample: int = 20, seed: int = 0,
                 sample_rate: int = 16000) -> Path:
    entries = list(iter_manifest(manifest))
    if not entries:
        raise ValueError(f"{manifest}: empty manifest")
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(entries), size=min(sample, len(entries)), replace=False).tolist())
    mel = MelSpectrogramPreprocessor(sample_rate=sample_rate, features=64).eval()
    rows = [_row(i + 1, entries[i], mel, sample_rate) for i in picked]
    durations = [e.duration for e in entries]
    chars = Counter(c for e in entries for c in e.text)
    body = (f"<h1>{html.escape(Path(manifest).name)}</h1><p>{len(entries)} utterances, "
            f"{sum(durations) / 3600:.2f} h, {len(chars)} distinct characters; showing {len(rows)} rows "
            f"(seed {seed}).</p><div class=h><div><h3>Durations (s)</h3>{_histogram_svg(durations)}</div>"
            f"<div><h3>Characters</h3>{_bars_svg(chars.most_common(40))}</div></div>"
            "<table><tr><th>#</th><th>audio</th><th>transcript</th><th>waveform / spectrogram / log-mel</th></tr>"
            + "".join(rows) + "</table>")
    page = f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(str(manifest))}</title>" \
           f"<style>{STYLE}</style></head><body>{body}</body></html>"
    return atomic_write_text(out, page)


def _row(line: int, e, mel: MelSpectrogramPreprocessor, sample_rate: int) -> str:
    try:
        audio = load_audio(e.audio_filepath, sample_rate, offset=e.offset,
                           duration=e.duration if e.offset else None)
    except ValueError as err:
        return f"<tr><td>{line}</td><td colspan=3>{html.escape(str(err))}</td></tr>"
    spec = np.log(np.abs(np.fft.rfft(_frames(audio), axis=1)).T ** 2 + 1e-10)
    with torch.inference_mode():
        feats, n = mel(torch.from_numpy(audio)[None], torch.tensor([len(audio)]))
    log_mel = feats[0, :, : int(n[0])].numpy()
    images = "".join(f"<img alt='{alt}' src='data:image/png;base64,{base64.b64encode(png(img)).decode()}'>"
                     for alt, img in (("waveform", waveform_image(audio)), ("spectrogram", heatmap_image(spec)),
                                      ("log-mel", heatmap_image(log_mel, height=64, floor_db=1e9))))
    wav = base64.b64encode(wav_bytes(audio, sample_rate)).decode()
    return (f"<tr><td>{line}</td><td>{html.escape(Path(e.audio_filepath).name)}<br><small>{e.duration:.2f} s</small>"
            f"<br><audio controls preload=none src='data:audio/wav;base64,{wav}'></audio></td>"
            f"<td class=t>{html.escape(e.text)}</td><td>{images}</td></tr>")


def _frames(audio: np.ndarray, n_fft: int = 512, hop: int = 160) -> np.ndarray:
    audio = np.pad(audio, (n_fft // 2, n_fft // 2))
    count = max(1 + (len(audio) - n_fft) // hop, 1)
    idx = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
    return audio[np.minimum(idx, len(audio) - 1)] * np.hanning(n_fft)


def _histogram_svg(values: list[float], bins: int = 20, w: int = 360, h: int = 120) -> str:
    counts, edges = np.histogram(values, bins=bins)
    top = max(int(counts.max()), 1)
    bw = w / bins
    bars = "".join(f"<rect x='{i * bw:.1f}' y='{h - c / top * h:.1f}' width='{bw - 1:.1f}' height='{c / top * h:.1f}'"
                   f" fill='#3b528b'><title>{edges[i]:.2f}-{edges[i + 1]:.2f} s: {c}</title></rect>"
                   for i, c in enumerate(counts))
    return (f"<svg width={w} height={h + 16}>{bars}<text x=0 y={h + 14} font-size=11>{edges[0]:.1f}</text>"
            f"<text x={w - 30} y={h + 14} font-size=11>{edges[-1]:.1f}</text></svg>")


def _bars_svg(items: list[tuple[str, int]], w: int = 520, h: int = 120) -> str:
    if not items:
        return ""
    top, bw = max(n for _, n in items), w / len(items)
    out = []
    for i, (c, n) in enumerate(items):
        label = "␣" if c == " " else html.escape(c)
        out.append(f"<rect x='{i * bw:.1f}' y='{h - n / top * h:.1f}' width='{bw - 1:.1f}' height='{n / top * h:.1f}'"
                   f" fill='#21918c'><title>{label}: {n}</title></rect>"
                   f"<text x='{i * bw + bw / 2 - 3:.1f}' y={h + 14} font-size=11>{label}</text>")
    return f"<svg width={w} height={h + 18}>{''.join(out)}</svg>"
