"""Small inline SVG charts for server-made pages (the scenario report): bars and lines.

No chart library: a report is a self-contained HTML page, so its charts are plain SVG
text with escaped labels, sized in CSS pixels and readable when printed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 560, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 16, 48
AXIS = "#444444"
GRID = "#dddddd"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    colour: str


@dataclass(frozen=True)
class Line:
    name: str
    points: Sequence[tuple[float, float]]
    colour: str


def nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    scale = 10.0 ** math.floor(math.log10(value))
    return next(step * scale for step in (1.0, 2.0, 2.5, 5.0, 10.0) if step * scale >= value * (1 - 1e-12))


def _frame(body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
            f'height="{HEIGHT}" role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">'
            f'<title>{escape(title)}</title>{"".join(body)}</svg>')


def _y_axis(top: float, y_label: str, fmt: Callable[[float], str]) -> list[str]:
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    out = []
    for k in range(5):
        value = top * k / 4
        y = MARGIN_TOP + plot_h * (1 - k / 4)
        out.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="{GRID}"/><text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{escape(fmt(value))}</text>')
    out.append(f'<text transform="translate(12 {MARGIN_TOP + plot_h / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    return out


def bar_chart(bars: Sequence[Bar], y_label: str, title: str,
              fmt: Callable[[float], str] = lambda v: f"{v:g}") -> str:
    """Vertical bars with their values written on top."""
    top = nice_max(max((b.value for b in bars), default=0.0))
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    body = _y_axis(top, y_label, fmt)
    slot = plot_w / max(len(bars), 1)
    for i, bar in enumerate(bars):
        h = plot_h * bar.value / top
        x = MARGIN_LEFT + i * slot + slot * 0.15
        y = MARGIN_TOP + plot_h - h
        body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                    f'fill="{escape(bar.colour)}" stroke="{AXIS}" stroke-width="0.5"/>'
                    f'<text x="{x + slot * 0.35:.1f}" y="{y - 3:.1f}" text-anchor="middle">{escape(fmt(bar.value))}</text>'
                    f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" text-anchor="middle">'
                    f'{escape(bar.label)}</text>')
    body.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{MARGIN_TOP + plot_h}" '
                f'y2="{MARGIN_TOP + plot_h}" stroke="{AXIS}"/>')
    return _frame(body, title)


def line_chart(lines: Sequence[Line], x_label: str, y_label: str, title: str,
               x_fmt: Callable[[float], str] = lambda v: f"{v:g}",
               y_fmt: Callable[[float], str] = lambda v: f"{v:g}") -> str:
    """Polylines over a shared x range, with a legend under the x axis label."""
    xs = [x for line in lines for x, _ in line.points]
    ys = [y for line in lines for _, y in line.points]
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    x1 = x1 if x1 > x0 else x0 + 1.0
    top = nice_max(max(ys, default=0.0))
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    body = _y_axis(top, y_label, y_fmt)

    def px(x: float, y: float) -> str:
        return f"{MARGIN_LEFT + plot_w * (x - x0) / (x1 - x0):.1f},{MARGIN_TOP + plot_h * (1 - y / top):.1f}"

    for k in range(5):
        x = x0 + (x1 - x0) * k / 4
        body.append(f'<text x="{MARGIN_LEFT + plot_w * k / 4:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 14}" '
                    f'text-anchor="middle">{escape(x_fmt(x))}</text>')
    body.append(f'<text x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 28}" '
                f'text-anchor="middle">{escape(x_label)}</text>')
    for i, line in enumerate(lines):
        points = " ".join(px(x, y) for x, y in line.points)
        body.append(f'<polyline points="{points}" fill="none" stroke="{escape(line.colour)}" stroke-width="2"/>'
                    f'<rect x="{MARGIN_LEFT + i * 150}" y="{HEIGHT - 12}" width="10" height="10" '
                    f'fill="{escape(line.colour)}"/><text x="{MARGIN_LEFT + i * 150 + 14}" y="{HEIGHT - 3}">'
                    f'{escape(line.name)}</text>')
    body.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{MARGIN_TOP + plot_h}" '
                f'y2="{MARGIN_TOP + plot_h}" stroke="{AXIS}"/>')
    return _frame(body, title)
