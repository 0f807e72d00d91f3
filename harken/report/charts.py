"""Line and bar charts for the result pages: the marks as a PNG (images.png), the words as HTML around it.

Text is what a plotting library would be needed for; the browser sets it instead (tick labels, legend,
values), crisp at any zoom, so the pages need nothing beyond numpy. Marks are drawn at twice the size and
averaged down, which smooths lines without an anti-aliasing rasteriser.
"""

from __future__ import annotations

import base64
import html
import math

import numpy as np

from harken.report.images import png

COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
SCALE = 2
LEFT, BOTTOM, TOP = 58, 20, 8  # room for the tick labels around the picture, in CSS pixels
CSS = """.chart{display:inline-block;margin:0 28px 18px 0;vertical-align:top}.chart figcaption{font-weight:600}
.plot{position:relative}.plot img{position:absolute}.plot span{position:absolute;font-size:11px;color:#555;
white-space:nowrap}.legend i{display:inline-block;width:14px;height:3px;margin:0 4px 3px 10px;vertical-align:middle}
.legend{font-size:12px}"""


def line_chart(title: str, series: dict[str, tuple[list[float], list[float]]], log_y: bool = False,
               width: int = 440, height: int = 200) -> str:
    """`series`: name -> (x values, y values). Non-finite values (and, with `log_y`, values <= 0) are dropped;
    a series with few points also gets dots, so that one validation every 100 steps still shows."""
    clean = {name: _finite(xs, ys, log_y) for name, (xs, ys) in series.items()}
    clean = {name: xy for name, xy in clean.items() if len(xy[0])}
    if not clean:
        return ""
    xs = np.concatenate([x for x, _ in clean.values()])
    ys = np.concatenate([y for _, y in clean.values()])
    xaxis, yaxis = _Axis(xs.min(), xs.max()), _Axis(ys.min(), ys.max(), log_y)
    canvas = _Canvas(width, height)
    canvas.grid([xaxis.pos(v) for v, _ in xaxis.ticks()], [yaxis.pos(v) for v, _ in yaxis.ticks()])
    for k, (x, y) in enumerate(clean.values()):
        color = COLORS[k % len(COLORS)]
        if len(x) > 50:  # a noisy training curve: the raw values faint, a moving average on top
            canvas.line(*_thin(xaxis.pos(x), yaxis.pos(y), width), _tint(color), 1.0)
            canvas.line(*_thin(xaxis.pos(x), yaxis.pos(_smooth(y, log_y)), width), color, 1.6)
        else:
            canvas.line(xaxis.pos(x), yaxis.pos(y), color, 1.6)
            canvas.dots(xaxis.pos(x), yaxis.pos(y), color, 2.6)
    labels = [_label(LEFT + xaxis.pos(v) * width - 30, TOP + height + 3, text, "width:60px;text-align:center")
              for v, text in xaxis.ticks()]
    labels += [_label(0, TOP + (1 - yaxis.pos(v)) * height - 7, text, f"width:{LEFT - 6}px;text-align:right")
               for v, text in yaxis.ticks()]
    legend = "".join(f"<i style='background:{_css(COLORS[k % len(COLORS)])}'></i>{html.escape(name)}"
                     for k, name in enumerate(clean))
    return _figure(title, canvas, width, height, labels, f"<div class=legend>{legend}</div>")


def bar_chart(title: str, bars: list[tuple[str, float, str]], width: int = 300, row: int = 22,
              percent: bool = True) -> str:
    """Horizontal bars, one per (label, value, note): the label left of its bar, value and note right of it."""
    if not bars:
        return ""
    label_w = min(max(len(label) for label, _, _ in bars) * 7 + 10, 200)
    top = max(max(v for _, v, _ in bars), 1e-9)
    height = row * len(bars)
    canvas = _Canvas(width, height)
    for k, (_, value, _) in enumerate(bars):
        canvas.bar(k * row + 3, (k + 1) * row - 3, value / top, COLORS[0])
    labels = []
    for k, (label, value, note) in enumerate(bars):
        shown = f"{100 * value:.1f}%" if percent else f"{value:g}"
        labels.append(_label(0, k * row + 4, label, f"width:{label_w - 8}px;text-align:right;overflow:hidden"))
        labels.append(_label(label_w + value / top * width + 4, k * row + 4, f"{shown} {note}".strip(), ""))
    return _figure(title, canvas, width, height, labels, "", left=label_w, right=110, bottom=0, top=0)


class _Axis:
    """Maps values to [0, 1]; log scale for quantities that fall by decades (a CTC loss)."""

    def __init__(self, lo: float, hi: float, log: bool = False):
        self.log = log
        lo, hi = (math.log10(lo), math.log10(hi)) if log else (float(lo), float(hi))
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        pad = (hi - lo) * 0.05
        self.lo, self.hi = lo - pad, hi + pad

    def pos(self, v):
        v = np.log10(v) if self.log else np.asarray(v, dtype=np.float64)
        return (v - self.lo) / (self.hi - self.lo)

    def ticks(self) -> list[tuple[float, str]]:
        if self.log:  # 1-2-5 steps within a decade or two, else powers of ten (every k-th when many)
            decades = range(math.floor(self.lo), math.ceil(self.hi) + 1)
            values = [m * 10.0 ** e for e in decades for m in ((1, 2, 5) if self.hi - self.lo <= 2.5 else (1,))]
            values = [v for v in values if self.lo <= math.log10(v) <= self.hi]
            values = values[::max(1, math.ceil(len(values) / 6))]
        else:
            raw = (self.hi - self.lo) / 4
            step = 10 ** math.floor(math.log10(raw))
            step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
            values = [k * step for k in range(math.ceil(self.lo / step), math.floor(self.hi / step) + 1)]
        return [(v, _number(v)) for v in values]


class _Canvas:
    """An RGB image drawn at SCALE times its size; `image()` averages it down."""

    def __init__(self, width: int, height: int):
        self.w, self.h = width * SCALE, height * SCALE
        self.rgb = np.full((self.h, self.w, 3), 255.0)

    def grid(self, xs: list[float], ys: list[float]) -> None:
        for x in xs:
            self.rgb[:, int(np.clip(x * (self.w - 1), 0, self.w - 1))] = 232
        for y in ys:
            self.rgb[int(np.clip((1 - y) * (self.h - 1), 0, self.h - 1)), :] = 232
        self.rgb[-2:, :] = self.rgb[:, :2] = 150  # the axes

    def line(self, x: np.ndarray, y: np.ndarray, color: tuple[int, int, int], radius: float) -> None:
        px, py = x * (self.w - 1), (1 - y) * (self.h - 1)
        if len(px) == 1:
            return self.dots(x, y, color, radius)
        steps = np.maximum(np.ceil(np.maximum(abs(np.diff(px)), abs(np.diff(py)))), 1).astype(int)
        t = np.concatenate([np.arange(n) / n for n in steps])
        seg = np.repeat(np.arange(len(steps)), steps)
        self._stamp(px[seg] + t * (px[seg + 1] - px[seg]), py[seg] + t * (py[seg + 1] - py[seg]), color, radius)

    def dots(self, x: np.ndarray, y: np.ndarray, color: tuple[int, int, int], radius: float) -> None:
        self._stamp(np.asarray(x) * (self.w - 1), (1 - np.asarray(y)) * (self.h - 1), color, radius)

    def bar(self, top: int, bottom: int, fraction: float, color: tuple[int, int, int]) -> None:
        self.rgb[top * SCALE:bottom * SCALE, :max(int(fraction * self.w), 2)] = color

    def _stamp(self, px: np.ndarray, py: np.ndarray, color: tuple[int, int, int], radius: float) -> None:
        r = radius * SCALE
        k = int(math.ceil(r))
        dx, dy = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1))
        keep = dx ** 2 + dy ** 2 <= r * r
        xs = (np.round(px)[:, None] + dx[keep][None]).ravel().astype(int)
        ys = (np.round(py)[:, None] + dy[keep][None]).ravel().astype(int)
        ok = (xs >= 0) & (xs < self.w) & (ys >= 0) & (ys < self.h)
        self.rgb[ys[ok], xs[ok]] = color

    def image(self) -> np.ndarray:
        small = self.rgb.reshape(self.h // SCALE, SCALE, self.w // SCALE, SCALE, 3).mean(axis=(1, 3))
        return small.round().astype(np.uint8)


def _figure(title: str, canvas: _Canvas, width: int, height: int, labels: list[str], after: str,
            left: int = LEFT, right: int = 12, bottom: int = BOTTOM, top: int = TOP) -> str:
    data = base64.b64encode(png(canvas.image())).decode()
    return (f"<figure class=chart><figcaption>{html.escape(title)}</figcaption>"
            f"<div class=plot style='width:{left + width + right}px;height:{top + height + bottom}px'>"
            f"<img alt='{html.escape(title, quote=True)}' width={width} height={height} "
            f"style='left:{left}px;top:{top}px' "
            f"src='data:image/png;base64,{data}'>{''.join(labels)}</div>{after}</figure>")


def _label(x: float, y: float, text: str, style: str) -> str:
    return f"<span style='left:{x:.0f}px;top:{y:.0f}px;{style}'>{html.escape(text)}</span>"


def _number(v: float) -> str:
    """Tick text: 3 significant digits, thousands and millions of steps as k and M."""
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    return f"{v / 1e3:g}k" if abs(v) >= 1e4 else f"{v:.3g}"


def _finite(xs: list[float], ys: list[float], log: bool) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log else True)
    return x[keep], y[keep]


def _smooth(y: np.ndarray, log: bool) -> np.ndarray:
    """A centred moving average over ~2% of the points (in log space for a log axis)."""
    k = max(len(y) // 50, 3) | 1
    v = np.log(y) if log else y
    padded = np.pad(v, k // 2, mode="edge")
    out = np.convolve(padded, np.ones(k) / k, mode="valid")
    return np.exp(out) if log else out


def _thin(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """At most 2n points: each of n runs of consecutive points kept as its lowest and highest (in their
    order), so a curve of 100k steps draws as fast as one of 1k and keeps its envelope."""
    if len(x) <= 2 * n:
        return x, y
    keep = []
    for run in np.array_split(np.arange(len(x)), n):
        keep += sorted({run[np.argmin(y[run])], run[np.argmax(y[run])]})
    return x[keep], y[keep]


def _tint(color: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(int(c + (255 - c) * 0.65) for c in color)  # type: ignore[return-value]


def _css(color: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in color)
