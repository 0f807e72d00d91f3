"""`harken eval --report page.html`: one self-contained page to read an evaluation, row by row.

Every shown row: an audio player, the reference and the hypothesis with their word differences marked
(diff.py), word confidence as underline colour, the row's WER, CER, duration and speaker; the table sorts
by any number column with a click (worst WER first on the first click; `page.html#sort=wer` opens it so
sorted). Above it, over *all* scored rows:
the summary, WER by duration bin, WER by speaker or voice (when the manifest names one) and the most frequent
substitutions. Large evaluations show a random sample of `max_rows` rows so that the page stays a size a
browser opens; the audio is embedded (MP3, about 4 kB a second, FLAC where libsndfile has no MP3 encoder),
so the page can be moved, mailed or kept as a CI artifact without its audio files.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf

from harken.audio.io import load_audio
from harken.core.atomic import atomic_write_text
from harken.metrics.evaluate import EvalResult
from harken.metrics.wer import ErrorCounts
from harken.report import charts, diff

GROUP_FIELDS = ("speaker", "speaker_id", "voice")  # manifest keys that say who speaks, first found is used
DURATION_EDGES = [0, 1, 2, 3, 5, 8, 12, 20, 30, 60]
MAX_GROUPS = 25
STYLE = """body{font-family:system-ui,sans-serif;margin:24px;color:#222}table.rows{border-collapse:collapse;width:100%}
.rows td,.rows th{border-bottom:1px solid #ddd;padding:5px 6px;vertical-align:top;text-align:left}
.rows th[data-key]{cursor:pointer;user-select:none}.rows th[aria-sort=descending]:after{content:' \\25BC'}
.rows th[aria-sort=ascending]:after{content:' \\25B2'}.num{text-align:right;font-variant-numeric:tabular-nums}
.t{font-family:monospace;font-size:14px}small{color:#666}audio{width:220px;height:32px}pre{background:#f6f6f6;
padding:8px}.subs td,.subs th{padding:2px 10px 2px 0;text-align:left}.key span{padding:0 4px;margin-right:6px}"""
SORT_JS = r"""document.querySelectorAll('th[data-key]').forEach(th=>th.addEventListener('click',()=>{
const body=th.closest('table').tBodies[0],key=th.dataset.key,down=th.getAttribute('aria-sort')!=='descending';
th.parentNode.querySelectorAll('th').forEach(h=>h.removeAttribute('aria-sort'));
th.setAttribute('aria-sort',down?'descending':'ascending');
[...body.rows].sort((a,b)=>(down?-1:1)*(a.dataset[key]-b.dataset[key])).forEach(r=>body.append(r));}));
const asked=location.hash.match(/sort=(\w+)/);if(asked)document.querySelector(`th[data-key=${asked[1]}]`)?.click();"""


def build_eval_report(result: EvalResult, out: str | Path, model_name: str, sample_rate: int,
                      max_rows: int = 500, seed: int = 0) -> Path:
    """`result` from `evaluate(..., details=True)`; writes `out` atomically and returns it."""
    rows = result.predictions
    if len(result.details) != len(rows):
        raise ValueError("the evaluation was run without details=True: no page can be made from it")
    diffs = [diff.word_diff(d["reference"], p["pred_text"], [c for _, c in d["words"]])
             for p, d in zip(rows, result.details)]
    shown = _sample(len(rows), max_rows, seed)
    group = next((k for k in GROUP_FIELDS if any(k in r for r in rows)), None)
    note = (f"all {len(rows)} rows" if len(shown) == len(rows)
            else f"a random sample of {len(shown)} of {len(rows)} rows (seed {seed}; --report-max)")
    body = [f"<h1>{html.escape(Path(result.manifest).name)}</h1>",
            f"<p>model <b>{html.escape(model_name)}</b>; plots over every scored row, table of {note}.</p>",
            f"<pre>{html.escape(result.table())}</pre>", _failures(result.failed),
            "<div>", _by_duration(rows, result.utterance_words)]
    if group:
        body.append(_by_group(rows, result.utterance_words, group))
    body += ["</div>", _substitutions(diffs), _key(),
             _table([(i, rows[i], result.details[i], diffs[i]) for i in shown], group, sample_rate)]
    page = (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(result.manifest)}: "
            f"{100 * result.wer:.2f}% WER</title><style>{STYLE}{charts.CSS}{diff.CSS}</style></head>"
            f"<body>{''.join(body)}<script>{SORT_JS}</script></body></html>")
    return atomic_write_text(out, page)


def audio_uri(audio: np.ndarray, sample_rate: int) -> str:
    """A data: URI every browser plays: MP3 (small) when this libsndfile encodes it, else lossless FLAC."""
    buf = io.BytesIO()
    if "MP3" in sf.available_formats():
        sf.write(buf, np.clip(audio, -1, 1), sample_rate, format="MP3", subtype="MPEG_LAYER_III")
        mime = "audio/mpeg"
    else:
        sf.write(buf, np.clip(audio, -1, 1), sample_rate, format="FLAC", subtype="PCM_16")
        mime = "audio/flac"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode()}"


def _sample(n: int, most: int, seed: int) -> list[int]:
    if n <= most:
        return list(range(n))
    return sorted(np.random.default_rng(seed).choice(n, size=most, replace=False).tolist())


def _rate(errors: list[ErrorCounts]) -> float:
    total = ErrorCounts()
    for e in errors:
        total += e
    return total.rate


def _by_duration(rows: list[dict], errors: list[ErrorCounts]) -> str:
    edges = [*DURATION_EDGES, float("inf")]
    bars = []
    for lo, hi in zip(edges, edges[1:]):
        picked = [e for r, e in zip(rows, errors) if lo <= r["duration"] < hi]
        if picked:
            label = f"{lo}-{hi} s" if hi != float("inf") else f"{lo} s or more"
            bars.append((label, _rate(picked), f"({len(picked)} utt.)"))
    return charts.bar_chart("WER by duration", bars)


def _by_group(rows: list[dict], errors: list[ErrorCounts], key: str) -> str:
    groups: dict[str, list[ErrorCounts]] = {}
    for r, e in zip(rows, errors):
        groups.setdefault(str(r.get(key, "?")), []).append(e)
    if len(groups) < 2:
        return ""
    biggest = sorted(groups.items(), key=lambda kv: -len(kv[1]))[:MAX_GROUPS]
    bars = sorted(((name, _rate(errs), f"({len(errs)} utt.)") for name, errs in biggest), key=lambda b: -b[1])
    more = f" (the {MAX_GROUPS} with most rows of {len(groups)})" if len(groups) > MAX_GROUPS else ""
    return charts.bar_chart(f"WER by {key}{more}", bars)


def _substitutions(diffs: list[diff.WordDiff], top: int = 20) -> str:
    subs = Counter((r, h) for d in diffs for r, h in d.pairs if r is not None and h is not None and r != h)
    dels = Counter(r for d in diffs for r, h in d.pairs if h is None)
    ins = Counter(h for d in diffs for r, h in d.pairs if r is None)
    if not (subs or dels or ins):
        return "<p>No word errors.</p>"
    rows = "".join(f"<tr><td class=num>{n}</td><td class=t>{html.escape(r)}</td><td>&rarr;</td>"
                   f"<td class=t>{html.escape(h)}</td></tr>" for (r, h), n in subs.most_common(top))

    def words(c: Counter) -> str:
        return ", ".join(f"<span class=t>{html.escape(w)}</span> ({n})" for w, n in c.most_common(top)) or "none"

    return (f"<h3>Most frequent substitutions ({sum(subs.values())} in all)</h3><table class=subs>"
            f"<tr><th>count</th><th>reference</th><th></th><th>hypothesis</th></tr>{rows}</table>"
            f"<p><b>Deleted</b> ({sum(dels.values())}): {words(dels)}<br><b>Inserted</b> ({sum(ins.values())}): "
            f"{words(ins)}</p>")


def _key() -> str:
    return ("<p class=key><span class=sub>substituted</span><span class=del>deleted</span>"
            "<span class=ins>inserted</span>underline: word confidence "
            f"<span data-c=0.5 style='border-color:{diff.confidence_color(0.5)}'>0.5</span>"
            f"<span data-c=0.8 style='border-color:{diff.confidence_color(0.8)}'>0.8</span>"
            f"<span data-c=1.0 style='border-color:{diff.confidence_color(1.0)}'>1.0</span>"
            "&nbsp; Click a column title to sort.</p>")


def _table(picked: list[tuple[int, dict, dict, diff.WordDiff]], group: str | None, sample_rate: int) -> str:
    head = ("<tr><th data-key=n class=num>#</th><th>audio</th><th>reference / hypothesis</th>"
            "<th data-key=wer class=num>WER</th><th data-key=cer class=num>CER</th>"
            "<th data-key=dur class=num>duration</th><th data-key=conf class=num>confidence</th>"
            + (f"<th>{html.escape(group)}</th>" if group else "") + "</tr>")
    return (f"<table class=rows><thead>{head}</thead><tbody>"
            + "".join(_row(i, row, det, d, group, sample_rate) for i, row, det, d in picked) + "</tbody></table>")


def _row(i: int, row: dict, details: dict, d: diff.WordDiff, group: str | None, sample_rate: int) -> str:
    confidences = [c for _, c in details["words"]]
    conf = sum(confidences) / len(confidences) if confidences else 1.0
    try:
        audio = load_audio(row["audio_filepath"], sample_rate, offset=row.get("offset", 0.0),
                           duration=row["duration"] if row.get("offset") else None)
        player = f"<audio controls preload=none src='{audio_uri(audio, sample_rate)}'></audio>"
    except (ValueError, OSError) as e:
        player = f"<small>{html.escape(str(e))}</small>"
    wer = row["wer"]
    shade = f"hsl(0,80%,{100 - 28 * min(wer, 1.0):.0f}%)"
    cells = (f"<td class=num>{i + 1}</td><td>{player}<br><small>{html.escape(Path(row['audio_filepath']).name)}"
             f"</small></td><td class=t><div class=ref>{d.reference}</div><div class=hyp>{d.hypothesis}</div></td>"
             f"<td class=num style='background:{shade}'>{100 * wer:.1f}%</td>"
             f"<td class=num>{100 * details['cer']:.1f}%</td><td class=num>{row['duration']:.2f} s</td>"
             f"<td class=num>{conf:.2f}</td>"
             + (f"<td>{html.escape(str(row.get(group, '')))}</td>" if group else ""))
    return (f"<tr data-n={i + 1} data-wer={wer} data-cer={details['cer']} data-dur={row['duration']} "
            f"data-conf={conf:.4f}>{cells}</tr>")


def _failures(failed: list[str], most: int = 20) -> str:
    if not failed:
        return ""
    items = "".join(f"<li>{html.escape(m)}</li>" for m in failed[:most])
    more = f"<li>... and {len(failed) - most} more</li>" if len(failed) > most else ""
    return f"<h3>{len(failed)} rows could not be read (not scored)</h3><ul>{items}{more}</ul>"
