"""Small charts as inline SVG: no script, no font or image to fetch, readable offline.

Each function returns one ``<svg>`` element (HTML5 inline SVG needs no namespace) with
a ``<title>`` and an ``aria-label``, so a screen reader and a test can tell the charts
apart. Text is escaped; numbers are laid out by the caller's formatter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")
INK = "#333"
GRID = "#ddd"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _svg(width: int, height: int, name: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(name)}">'
        f"<title>{escape(name)}</title>" + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12) -> str:
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" font-size="{size}" fill="{INK}" '
        f'text-anchor="{anchor}">{escape(text)}</text>'
    )


def _legend_right(labels: Sequence[str], minimum: int) -> int:
    """Right margin that holds the legend: a swatch, then the longest label in full
    (about 7 px a character at 12 px; "BG/NBD, calibrated (isotonic)" was clipped)."""
    return max(minimum, 42 + 7 * max((len(str(s)) for s in labels), default=0))


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    name: str,
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
    color: str = PALETTE[0],
    width: int = 560,
    label_width: int = 200,
) -> str:
    """Horizontal bars, one per label, with the value written at the end of each bar."""
    row = 24
    height = row * len(labels) + 10
    top = max((v for v in values if v == v), default=0.0) or 1.0
    span = width - label_width - 90
    body = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 5 + i * row
        w = 0.0 if value != value else max(0.0, value) / top * span
        body.append(_text(label_width - 8, y + 16, label, anchor="end"))
        body.append(
            f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{_num(w)}" '
            f'height="{row - 8}" fill="{color}"><title>{escape(label)}: '
            f"{escape(fmt(value))}</title></rect>"
        )
        body.append(_text(label_width + w + 6, y + 16, fmt(value)))
    return _svg(width, height, name, body)


def histogram(
    edges: Sequence[float],
    counts: Mapping[str, Sequence[float]],
    *,
    name: str,
    x_label: str,
    y_label: str = "customers",
    colors: Mapping[str, str] | None = None,
    width: int = 560,
    height: int = 260,
) -> str:
    """Stacked histogram: ``counts[series][i]`` customers between ``edges[i:i+2]``.

    ``width`` grows past its value when a legend label needs the room."""
    left, right, top, bottom = 50, 170, 10, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    right = _legend_right(list(counts), right)
    width = left + plot_w + right
    n_bins = len(edges) - 1
    totals = [sum(c[i] for c in counts.values()) for i in range(n_bins)]
    ymax = 1.05 * max(totals, default=0) or 1
    step = _nice_step(ymax)
    body = _axes(left, top, plot_w, plot_h)
    for k in range(0, int(ymax // step) + 1):
        v = k * step
        y = top + plot_h - v / ymax * plot_h
        body.append(
            f'<line x1="{left}" y1="{_num(y)}" x2="{left + plot_w}" y2="{_num(y)}" '
            f'stroke="{GRID}"/>'
        )
        body.append(_text(left - 4, y + 4, f"{v:,.0f}", anchor="end", size=10))
    x0, x1 = edges[0], edges[-1]
    bw = plot_w / n_bins
    base = [0.0] * n_bins
    palette = dict(colors or {})
    for s, (series, values) in enumerate(counts.items()):
        color = palette.get(series, PALETTE[s % len(PALETTE)])
        for i, v in enumerate(values):
            if v <= 0:
                continue
            h = v / ymax * plot_h
            y = top + plot_h - (base[i] + v) / ymax * plot_h
            body.append(
                f'<rect class="bar" x="{_num(left + i * bw + 1)}" y="{_num(y)}" '
                f'width="{_num(bw - 2)}" height="{_num(h)}" fill="{color}"><title>'
                f"{escape(series)}, {edges[i]:.2f}-{edges[i + 1]:.2f}: {v:,.0f}</title></rect>"
            )
            base[i] += v
        body.append(
            f'<rect x="{width - right + 12}" y="{top + 18 * s}" width="12" height="12" '
            f'fill="{color}"/>'
        )
        body.append(_text(width - right + 30, top + 18 * s + 11, series))
    for frac in (0, 0.25, 0.5, 0.75, 1):
        x = left + frac * plot_w
        body.append(
            _text(x, top + plot_h + 16, f"{x0 + frac * (x1 - x0):.2g}", anchor="middle", size=10)
        )
    body.append(_text(left + plot_w / 2, height - 4, x_label, anchor="middle"))
    body.append(
        f'<text x="12" y="{_num(top + plot_h / 2)}" font-size="12" fill="{INK}" '
        f'text-anchor="middle" transform="rotate(-90 12 {_num(top + plot_h / 2)})">'
        f"{escape(y_label)}</text>"
    )
    return _svg(width, height, name, body)


def reliability_chart(
    series: Mapping[str, Sequence[tuple[float, float | None, int | None]]],
    *,
    name: str,
    width: int = 600,
    height: int = 380,
) -> str:
    """Observed against predicted rate per bin, one line per model; gaps for empty bins.

    ``series[model]`` lists ``(predicted, observed, n)`` bins in order; a bin with
    ``observed`` None (or n == 0) breaks the line instead of being drawn at 0. The
    diagonal is perfect calibration. Points are sized by ``n``, the customers in the bin
    (None: not known; every point the same size, and no count is claimed). ``width``
    grows past its value when a legend label needs the room.
    """
    left, right, top, bottom = 50, 200, 10, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    right = _legend_right(list(series), right)
    width = left + plot_w + right
    body = _axes(left, top, plot_w, plot_h)

    def xy(px: float, py: float) -> tuple[float, float]:
        return left + px * plot_w, top + plot_h - py * plot_h

    for frac in (0, 0.2, 0.4, 0.6, 0.8, 1.0):
        x, _ = xy(frac, 0)
        _, y = xy(0, frac)
        body.append(
            f'<line x1="{left}" y1="{_num(y)}" x2="{left + plot_w}" y2="{_num(y)}" '
            f'stroke="{GRID}"/>'
        )
        body.append(_text(x, top + plot_h + 16, f"{frac:.0%}", anchor="middle", size=10))
        body.append(_text(left - 4, y + 4, f"{frac:.0%}", anchor="end", size=10))
    (ax, ay), (bx, by) = xy(0, 0), xy(1, 1)
    body.append(
        f'<line class="perfect" x1="{_num(ax)}" y1="{_num(ay)}" x2="{_num(bx)}" '
        f'y2="{_num(by)}" stroke="#999" stroke-dasharray="4 4"/>'
    )
    known = [n for bins in series.values() for _, _, n in bins if n is not None]
    biggest = max(known, default=1) or 1
    for s, (model, bins) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        paths, current = [], []
        for predicted, observed, n in bins:
            if observed is None or n == 0 or observed != observed:
                if current:
                    paths.append(current)
                current = []
                continue
            current.append((predicted, observed, n))
        if current:
            paths.append(current)
        for path in paths:
            points = " ".join(f"{_num(xy(p, o)[0])},{_num(xy(p, o)[1])}" for p, o, _ in path)
            body.append(
                f'<polyline class="line" points="{points}" fill="none" '
                f'stroke="{color}" stroke-width="2"/>'
            )
            for p, o, n in path:
                x, y = xy(p, o)
                r = 3.5 if n is None else 2.5 + 4 * math.sqrt(n / biggest)
                count = "" if n is None else f", {n:,} customers"
                body.append(
                    f'<circle class="point" cx="{_num(x)}" cy="{_num(y)}" r="{_num(r)}" '
                    f'fill="{color}"><title>{escape(model)}: predicted {p:.0%}, observed '
                    f"{o:.0%}{count}</title></circle>"
                )
        body.append(
            f'<rect x="{width - right + 12}" y="{top + 18 * s}" width="12" height="12" '
            f'fill="{color}"/>'
        )
        body.append(_text(width - right + 30, top + 18 * s + 11, model))
    body.append(
        _text(left + plot_w / 2, height - 4, "predicted churn probability", anchor="middle")
    )
    body.append(
        f'<text x="12" y="{_num(top + plot_h / 2)}" font-size="12" fill="{INK}" '
        f'text-anchor="middle" transform="rotate(-90 12 {_num(top + plot_h / 2)})">'
        "observed churn rate</text>"
    )
    return _svg(width, height, name, body)


def funnel_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    name: str,
    highlight: Sequence[bool],
    width: int = 760,
) -> str:
    """Centred bars, one per stage; stages the data cannot see say so."""
    row = 30
    height = row * len(labels) + 10
    known = [v for v in values if v is not None and v == v]
    top = max(known, default=0.0) or 1.0
    label_width = 340
    span = width - label_width - 80
    body = []
    for i, (label, value, hot) in enumerate(zip(labels, values, highlight, strict=True)):
        y = 5 + i * row
        body.append(_text(label_width - 8, y + 19, label, anchor="end"))
        if value is None or value != value:
            body.append(_text(label_width + 4, y + 19, "not in the data"))
            continue
        w = max(1.0, value / top * span) if value > 0 else 0.0
        x = label_width + (span - w) / 2
        color = PALETTE[0] if hot else "#9ecae1"
        body.append(
            f'<rect class="bar" x="{_num(x)}" y="{y + 3}" width="{_num(w)}" height="{row - 8}" '
            f'fill="{color}"><title>{escape(label)}: {value:,.0f}</title></rect>'
        )
        body.append(_text(x + w + 6, y + 19, f"{value:,.0f}"))
    return _svg(width, height, name, body)


def _axes(left: int, top: int, plot_w: int, plot_h: int) -> list[str]:
    return [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="{INK}"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{INK}"/>',
    ]


def _nice_step(top: float) -> float:
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude
