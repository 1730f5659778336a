"""Charts drawn as inline SVG: a bar chart (release cadence, lead times) and a line chart (benchmark trend).

Each chart is an `<svg role="img">` with a `<title>` and a `<desc>` that says in words what it shows, so a
screen reader (and a reader without images) gets the numbers too. Every text is escaped. Colours meet
WCAG AA contrast on white. No script, no external reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 44
# Dark enough for text and marks on white (contrast >= 4.5:1).
PALETTE = ("#1f5f99", "#a3411a", "#2d6a2d", "#6b3fa0", "#8a5a00", "#005f66")
AXIS = "#444444"


def _number(value: float) -> str:
    return f"{value:.3g}"


def _frame(chart_id: str, title: str, desc: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" class="chart">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _axes(top_value: float, unit: str) -> list[str]:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="{AXIS}"/>',
        f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{AXIS}"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - fraction * (bottom - TOP)
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{AXIS}">'
            f"{escape(_number(top_value * fraction))}{escape(unit)}</text>"
        )
    return parts


def bar_chart(chart_id: str, title: str, labels: Sequence[str], values: Sequence[float], unit: str) -> str:
    """Bars of `values` (>= 0) over `labels`; the description lists every label with its value."""
    top = max(values, default=0.0) or 1.0
    bottom = HEIGHT - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(values), 1)
    body = _axes(top, unit)
    step = max(1, len(labels) // 12)  # at most about 12 labels under the axis
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = (bottom - TOP) * value / top
        x = LEFT + index * slot + slot * 0.15
        body.append(
            f'<rect x="{x:.1f}" y="{bottom - height:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {escape(_number(value))}{escape(unit)}</title></rect>'
        )
        if index % step == 0:
            body.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{bottom + 16}" text-anchor="middle" font-size="11" '
                f'fill="{AXIS}">{escape(label)}</text>'
            )
    desc = "; ".join(f"{label}: {_number(value)}{unit}" for label, value in zip(labels, values, strict=True))
    return _frame(chart_id, title, desc or "no data yet", body)


def line_chart(
    chart_id: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], unit: str
) -> str:
    """One line per series over `labels` (None where a build lacks the benchmark), with a legend."""
    values = [v for _, points in series for v in points if v is not None]
    top = max(values, default=0.0) or 1.0
    bottom = HEIGHT - BOTTOM
    span = (WIDTH - LEFT - RIGHT) / max(len(labels) - 1, 1)
    body = _axes(top, unit)
    descriptions = []
    for number, (name, points) in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        coordinates = [
            (LEFT + index * span, bottom - (bottom - TOP) * value / top)
            for index, value in enumerate(points)
            if value is not None
        ]
        if coordinates:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coordinates)
            body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coordinates]
        body.append(
            f'<text x="{LEFT + 8}" y="{TOP + 14 + 14 * number}" font-size="11" fill="{colour}">{escape(name)}</text>'
        )
        shown = ", ".join(
            f"{label} {_number(v)}{unit}" for label, v in zip(labels, points, strict=True) if v is not None
        )
        descriptions.append(f"{name}: {shown}")
    if labels:
        body.append(
            f'<text x="{LEFT}" y="{bottom + 16}" font-size="11" fill="{AXIS}">{escape(labels[0])}</text>'
            f'<text x="{WIDTH - RIGHT}" y="{bottom + 16}" text-anchor="end" font-size="11" fill="{AXIS}">'
            f"{escape(labels[-1])}</text>"
        )
    return _frame(chart_id, title, "; ".join(descriptions) or "no data yet", body)
