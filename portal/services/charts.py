"""Server-rendered, accessible SVG bar charts: no JavaScript, a title and description read by screen readers
(``role="img"`` with ``aria-labelledby``), and legible in black and white (every bar is outlined, hatched and
labelled with its value, so nothing depends on colour). The page shows each chart's data as a table beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

_ids = count(1)

WIDTH = 640
BAR_AREA_HEIGHT = 200
TOP = 24  # room for the value above the tallest bar
LABEL_HEIGHT = 64  # room for the labels under the bars
LEFT = 8


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    labels: list[str]
    values: list[float]
    value_text: list[str]
    svg: Markup


def bar_chart(
    title: str,
    description: str,
    bars: Sequence[tuple[str, float]],
    *,
    value_format: Callable[[float], str] = lambda v: f"{v:g}",
    maximum: float | None = None,
    chart_id: str | None = None,
) -> Chart:
    """A vertical bar chart: one ``<rect class="bar">`` per value, its height proportional to the value (over
    ``maximum``, or the largest value), the value written above it and the label below. Labels and text are
    escaped."""
    chart_id = chart_id or f"chart-{next(_ids)}"
    labels = [str(label) for label, _ in bars]
    values = [float(value or 0) for _, value in bars]
    texts = [value_format(v) for v in values]
    top = maximum if maximum else max(values, default=0)
    n = max(len(values), 1)
    slot = (WIDTH - LEFT * 2) / n
    bar_width = max(slot * 0.7, 2)
    height = TOP + BAR_AREA_HEIGHT + LABEL_HEIGHT
    baseline = TOP + BAR_AREA_HEIGHT
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="app-chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" focusable="false">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(description)}</desc>',
        "<defs>"
        f'<pattern id="{chart_id}-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#0b0c0c" stroke-width="3"/></pattern>'
        "</defs>",
        f'<line x1="{LEFT}" y1="{baseline}" x2="{WIDTH - LEFT}" y2="{baseline}" stroke="#0b0c0c" stroke-width="2"/>',
    ]
    small = n > 8
    for index, (label, value, text) in enumerate(zip(labels, values, texts, strict=True)):
        bar_height = round(BAR_AREA_HEIGHT * value / top, 2) if top else 0.0
        x = round(LEFT + index * slot + (slot - bar_width) / 2, 2)
        centre = round(x + bar_width / 2, 2)
        parts.append(
            f'<rect class="bar" x="{x}" y="{round(baseline - bar_height, 2)}" width="{round(bar_width, 2)}" '
            f'height="{bar_height}" fill="url(#{chart_id}-hatch)" stroke="#0b0c0c" stroke-width="1.5" '
            f'data-value="{escape(text)}"/>'
        )
        parts.append(
            f'<text x="{centre}" y="{round(baseline - bar_height - 6, 2)}" text-anchor="middle" '
            f'font-size="{11 if small else 14}" fill="#0b0c0c">{escape(text)}</text>'
        )
        short = label if len(label) <= 18 else label[:17] + "…"
        if small:
            parts.append(
                f'<text x="{centre}" y="{baseline + 12}" text-anchor="end" font-size="11" fill="#0b0c0c" '
                f'transform="rotate(-45 {centre} {baseline + 12})">{escape(short)}</text>'
            )
        else:
            parts.append(
                f'<text x="{centre}" y="{baseline + 20}" text-anchor="middle" font-size="13" '
                f'fill="#0b0c0c">{escape(short)}</text>'
            )
    parts.append("</svg>")
    return Chart(chart_id, title, description, labels, values, texts, Markup("".join(parts)))


__all__ = ["Chart", "bar_chart"]
