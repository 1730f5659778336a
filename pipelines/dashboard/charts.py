"""Charts drawn as inline SVG: a bar chart (release cadence, lead times), a line chart (benchmark trend) and
small weekly trend bars (the DORA keys per week).

Each chart is an `<svg role="img">` with a `<title>` and a `<desc>` that says in words what it shows, so a
screen reader (and a reader without images) gets the numbers too. Every text is escaped. Colours come from
the page's stylesheet through classes (`bar`, `axis`, `s0`…), so they follow its light or dark scheme, and
line series differ by marker shape as well as by colour. No script, no external reference.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.dashboard.html import text

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 44
SERIES = 4  # series classes s0..s3 in the stylesheet; markers: circle, square, diamond, triangle
SMALL_WIDTH, SMALL_HEIGHT, SMALL_TOP, SMALL_BOTTOM = 260, 84, 16, 18


def _number(value: float) -> str:
    return f"{value:.3g}"


def _frame(chart_id: str, title: str, desc: str, body: list[str], size: tuple[int, int], kind: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size[0]} {size[1]}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" class="{kind}">'
        f'<title id="{chart_id}-title">{text(title)}</title><desc id="{chart_id}-desc">{text(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _axes(top_value: float, unit: str) -> list[str]:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = [
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" class="axis"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - fraction * (bottom - TOP)
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{text(_number(top_value * fraction))}{text(unit)}</text>"
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
            f'class="bar"><title>{text(label)}: {text(_number(value))}{text(unit)}</title></rect>'
        )
        if index % step == 0:
            body.append(f'<text x="{x + slot * 0.35:.1f}" y="{bottom + 16}" text-anchor="middle">{text(label)}</text>')
    desc = "; ".join(f"{label}: {_number(value)}{unit}" for label, value in zip(labels, values, strict=True))
    return _frame(chart_id, title, desc or "no data yet", body, (WIDTH, HEIGHT), "chart")


def _marker(number: int, x: float, y: float) -> str:
    shape = number % SERIES
    if shape == 0:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5"/>'
    if shape == 1:
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7"/>'
    if shape == 2:
        return f'<path d="M{x:.1f} {y - 4.5:.1f}l4.5 4.5-4.5 4.5-4.5-4.5z"/>'
    return f'<path d="M{x:.1f} {y - 4.5:.1f}l4.5 8h-9z"/>'


def line_chart(
    chart_id: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], unit: str
) -> str:
    """One line per series over `labels` (None where a build lacks the benchmark), with a legend; each series
    has its own marker shape as well as its own colour."""
    values = [v for _, points in series for v in points if v is not None]
    top = max(values, default=0.0) or 1.0
    bottom = HEIGHT - BOTTOM
    span = (WIDTH - LEFT - RIGHT) / max(len(labels) - 1, 1)
    body = _axes(top, unit)
    descriptions = []
    for number, (name, points) in enumerate(series):
        coordinates = [
            (LEFT + index * span, bottom - (bottom - TOP) * value / top)
            for index, value in enumerate(points)
            if value is not None
        ]
        group = [f'<g class="s{number % SERIES}">']
        if coordinates:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coordinates)
            group.append(f'<polyline points="{path}" fill="none" stroke-width="2"/>')
            group += [_marker(number, x, y) for x, y in coordinates]
        legend_y = TOP + 14 + 16 * number
        group.append(_marker(number, LEFT + 12, legend_y - 4))
        group.append(f'<text x="{LEFT + 22}" y="{legend_y}">{text(name)}</text></g>')
        body += group
        shown = ", ".join(
            f"{label} {_number(v)}{unit}" for label, v in zip(labels, points, strict=True) if v is not None
        )
        descriptions.append(f"{name}: {shown}")
    if labels:
        body.append(
            f'<text x="{LEFT}" y="{bottom + 16}">{text(labels[0])}</text>'
            f'<text x="{WIDTH - RIGHT}" y="{bottom + 16}" text-anchor="end">{text(labels[-1])}</text>'
        )
    return _frame(chart_id, title, "; ".join(descriptions) or "no data yet", body, (WIDTH, HEIGHT), "chart")


def trend_bars(
    chart_id: str, title: str, labels: Sequence[str], values: Sequence[float | None], shown: Sequence[str]
) -> str:
    """Small bars, one per week (`labels`), of `values` (None: no value that week, drawn as a dash on the
    axis); `shown` is each value as words, for the titles and the description. The highest value is
    written at the top left, the first and last week under the axis."""
    numbers = [v for v in values if v is not None]
    top = max(numbers, default=0.0) or 1.0
    bottom = SMALL_HEIGHT - SMALL_BOTTOM
    slot = SMALL_WIDTH / max(len(values), 1)
    body = [f'<line x1="0" y1="{bottom}" x2="{SMALL_WIDTH}" y2="{bottom}" class="axis"/>']
    best = max(range(len(values)), key=lambda i: values[i] or 0.0, default=None)
    if best is not None and numbers:
        body.append(f'<text x="0" y="11">max {text(shown[best])}</text>')
    for index, (label, value, words) in enumerate(zip(labels, values, shown, strict=True)):
        x = index * slot + slot * 0.15
        tip = f"<title>{text(label)}: {text(words)}</title>"
        if value is None:
            body.append(
                f'<rect x="{x:.1f}" y="{bottom - 1}" width="{slot * 0.7:.1f}" height="2" class="none">{tip}</rect>'
            )
            continue
        height = max((bottom - SMALL_TOP) * value / top, 1.5)
        body.append(
            f'<rect x="{x:.1f}" y="{bottom - height:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
            f'class="bar">{tip}</rect>'
        )
    if labels:
        body.append(
            f'<text x="0" y="{SMALL_HEIGHT - 4}">{text(labels[0])}</text>'
            f'<text x="{SMALL_WIDTH}" y="{SMALL_HEIGHT - 4}" text-anchor="end">{text(labels[-1])}</text>'
        )
    desc = "; ".join(f"{label}: {words}" for label, words in zip(labels, shown, strict=True))
    return _frame(chart_id, title, desc or "no data yet", body, (SMALL_WIDTH, SMALL_HEIGHT), "spark")
