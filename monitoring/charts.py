"""Geometry of the monitoring charts, as pure functions of the figures: horizontal bars
(a rate or a count per row: statistics groups, the funnel) and lines (weekly series).

The templates `monitoring/_bar_chart.svg.html` and `_line_chart.svg.html` only draw
what is computed here; every chart is followed on the page by a table of the same
figures. Series differ by marker shape and dash, not only by colour."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

BAR_WIDTH = 800
BAR_LABEL_WIDTH = 330
BAR_VALUE_WIDTH = 150
BAR_ROW = 34
BAR_HEIGHT = 20
BAR_TOP = 8

LINE_WIDTH = 720
LINE_HEIGHT = 300
LINE_MARGIN_LEFT = 48
LINE_MARGIN_RIGHT = 16
LINE_MARGIN_TOP = 16
LINE_MARGIN_BOTTOM = 40
MAX_X_LABELS = 8
MAX_Y_TICKS = 5

# DSFR colours: blue France, red Marianne's accessible variant, green.
SERIES_STYLES = (
    ("#000091", "", "circle"),
    ("#ce0500", "6 4", "square"),
    ("#18753c", "2 3", "triangle"),
)


def _r(value: float) -> str:
    """A coordinate for SVG: one decimal, no locale."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Bar:
    label: str
    display: str  # the value as the table shows it ("62,5 %", "1 234")
    y: str
    text_y: str
    width: str  # 0 when the value is 0 or missing
    value_x: str  # where the value is written, after the bar
    missing: bool  # no value (a rate without denominator): a note instead of a bar


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    view_box: str
    height: int
    bar_x: int
    bar_height: int = BAR_HEIGHT
    label_x: int = BAR_LABEL_WIDTH - 8


def bar_chart(
    rows: Sequence[tuple[str, float | None, str]], maximum: float | None = None
) -> BarChart:
    """One bar per (label, value, display); `maximum` fixes the scale (1 for rates),
    else the largest value fills the width."""
    values = [v for _, v, _ in rows if v is not None]
    top = maximum if maximum is not None else max(values, default=0)
    plot = BAR_WIDTH - BAR_LABEL_WIDTH - BAR_VALUE_WIDTH
    bars = []
    for index, (label, value, display) in enumerate(rows):
        y = BAR_TOP + index * BAR_ROW
        width = plot * value / top if value and top else 0
        bars.append(
            Bar(
                label=label,
                display=display,
                y=_r(y),
                text_y=_r(y + BAR_HEIGHT / 2 + 5),
                width=_r(width),
                value_x=_r(BAR_LABEL_WIDTH + width + 8),
                missing=value is None,
            )
        )
    height = BAR_TOP * 2 + len(rows) * BAR_ROW
    return BarChart(
        bars=bars,
        view_box=f"0 0 {BAR_WIDTH} {height}",
        height=height,
        bar_x=BAR_LABEL_WIDTH,
    )


@dataclass(frozen=True)
class Point:
    x: str
    y: str
    value: int
    day: date


@dataclass(frozen=True)
class Line:
    name: str
    colour: str
    dash: str
    marker: str
    points: list[Point]

    @property
    def path(self) -> str:
        return "M" + " L".join(f"{p.x},{p.y}" for p in self.points) if self.points else ""


@dataclass(frozen=True)
class Tick:
    position: str
    label: str


@dataclass(frozen=True)
class LineChart:
    lines: list[Line]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    view_box: str = f"0 0 {LINE_WIDTH} {LINE_HEIGHT}"
    left: int = LINE_MARGIN_LEFT
    right: int = LINE_WIDTH - LINE_MARGIN_RIGHT
    top: int = LINE_MARGIN_TOP
    bottom: int = LINE_HEIGHT - LINE_MARGIN_BOTTOM
    x_label_y: int = LINE_HEIGHT - LINE_MARGIN_BOTTOM + 20


def nice_step(maximum: float, ticks: int = MAX_Y_TICKS) -> int:
    """A round step (1, 2, 5 × 10ⁿ) so that about `ticks` ticks cover 0..maximum."""
    if maximum <= 0:
        return 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return max(1, int(factor * power))
    return max(1, int(10 * power))


def line_chart(days: Sequence[date], series: Sequence[tuple[str, Sequence[int]]]) -> LineChart:
    """One line per (name, values), each value at the day of the same index."""
    count = len(days)
    maximum = max((v for _, values in series for v in values), default=0)
    step = nice_step(maximum)
    top_value = max(step, math.ceil(maximum / step) * step)
    left, right = LINE_MARGIN_LEFT, LINE_WIDTH - LINE_MARGIN_RIGHT
    top, bottom = LINE_MARGIN_TOP, LINE_HEIGHT - LINE_MARGIN_BOTTOM

    def x_of(index: int) -> float:
        if count <= 1:
            return (left + right) / 2
        return left + 12 + (right - left - 24) * index / (count - 1)

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * value / top_value

    lines = []
    for index, (name, values) in enumerate(series):
        colour, dash, marker = SERIES_STYLES[index % len(SERIES_STYLES)]
        points = [Point(_r(x_of(i)), _r(y_of(v)), v, days[i]) for i, v in enumerate(values[:count])]
        lines.append(Line(name, colour, dash, marker, points))
    every = max(1, math.ceil(count / MAX_X_LABELS))
    x_ticks = [Tick(_r(x_of(i)), days[i].strftime("%d/%m/%y")) for i in range(0, count, every)]
    y_ticks = [Tick(_r(y_of(v)), str(v)) for v in range(0, top_value + 1, step)]
    return LineChart(lines=lines, x_ticks=x_ticks, y_ticks=y_ticks)
