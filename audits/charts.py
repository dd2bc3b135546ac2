"""Geometry of the exposure chart, as pure functions of the scans.

The template `audits/_exposure_chart.svg.html` only draws what is computed here, so
the scales, ticks and markers are unit-tested without rendering anything. The x axis
is a time scale (the 45 to 60 days of D1.O2.B must be visible as distances); the y
axis counts the critical and high vulnerabilities of each scan, the ones that decide
whether the "minimum security level of internet exposure" is met.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

# The viewBox: the SVG scales to the width of its container.
WIDTH = 900
HEIGHT = 320
MARGIN_LEFT = 56
MARGIN_RIGHT = 24
MARGIN_TOP = 32  # room for the label of the D1.O2.B window
MARGIN_BOTTOM = 40  # room for the month labels
# Markers never sit on the axes: the first and last scans are inset by this much.
X_INSET = 24
MAX_X_TICKS = 7
MAX_Y_TICKS = 5
MARKER_SIZE = 7


@dataclass(frozen=True)
class ChartScan:
    """What the chart needs of one exposure scan."""

    scan_date: date
    critical: int
    high: int
    medium: int = 0
    low: int = 0
    minimum_level_met: bool = False

    @property
    def critical_and_high(self) -> int:
        return self.critical + self.high


@dataclass(frozen=True)
class XTick:
    x: float
    day: date
    month: bool = True  # the first of a month (labelled "mars 2025"), else a scan date


@dataclass(frozen=True)
class YTick:
    y: float
    value: int


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    scan: ChartScan
    in_pair: bool  # one of the two scans that meet D1.O2.B

    @property
    def value(self) -> int:
        return self.scan.critical_and_high

    @property
    def met(self) -> bool:
        return self.scan.minimum_level_met

    @property
    def triangle(self) -> str:
        """The `points` of the triangle drawn for a scan below the minimum level (a
        circle is drawn when it is met: the shape, not only the colour, tells them apart)."""
        s = MARKER_SIZE
        return (
            f"{_r(self.x)},{_r(self.y - s)} "
            f"{_r(self.x + s)},{_r(self.y + s * 0.75)} "
            f"{_r(self.x - s)},{_r(self.y + s * 0.75)}"
        )


@dataclass(frozen=True)
class PairWindow:
    """The band between the two successive compliant scans 45 to 60 days apart."""

    x: float
    width: float
    first: date
    second: date

    @property
    def gap_days(self) -> int:
        return (self.second - self.first).days

    @property
    def label_x(self) -> float:
        return _r(self.x + self.width / 2)


@dataclass(frozen=True)
class ExposureChart:
    width: int = WIDTH
    height: int = HEIGHT
    left: float = MARGIN_LEFT
    right: float = WIDTH - MARGIN_RIGHT
    top: float = MARGIN_TOP
    bottom: float = HEIGHT - MARGIN_BOTTOM
    points: tuple[ChartPoint, ...] = ()
    x_ticks: tuple[XTick, ...] = ()
    y_ticks: tuple[YTick, ...] = ()
    y_max: int = 0
    pair_window: PairWindow | None = None
    line_path: str = ""
    met_count: int = field(default=0)

    @property
    def is_empty(self) -> bool:
        return not self.points

    @property
    def first_date(self) -> date | None:
        return self.points[0].scan.scan_date if self.points else None

    @property
    def last_point(self) -> ChartPoint | None:
        return self.points[-1] if self.points else None

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def plot_height(self) -> float:
        return self.bottom - self.top

    @property
    def plot_width(self) -> float:
        return self.right - self.left

    @property
    def x_label_y(self) -> float:
        return self.bottom + 22

    @property
    def y_label_x(self) -> float:
        return self.left - 10

    @property
    def x_tick_end(self) -> float:
        return self.bottom + 5

    @property
    def window_label_y(self) -> float:
        return self.top - 10


def nice_step(raw: float) -> int:
    """The smallest integer step of the form 1, 2 or 5 × 10^k that is at least `raw`."""
    if raw <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return int(factor * magnitude)
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def y_axis(max_value: int) -> tuple[int, list[int]]:
    """The top of the y axis and its tick values: round numbers from 0, at most
    MAX_Y_TICKS intervals. With no vulnerability at all the axis still runs 0 to 4, so
    that a flat line at 0 reads as "zero", not as an empty chart."""
    if max_value <= 0:
        return 4, [0, 1, 2, 3, 4]
    step = nice_step(max_value / MAX_Y_TICKS)
    top = math.ceil(max_value / step) * step
    return top, list(range(0, top + 1, step))


def month_ticks(first: date, last: date) -> list[date]:
    """First days of the months between the two dates, thinned to at most MAX_X_TICKS
    (every month, every second month, every quarter...)."""
    months = []
    year, month = (first.year, first.month) if first.day == 1 else _next_month(first)
    while date(year, month, 1) <= last:
        months.append(date(year, month, 1))
        year, month = _next_month(date(year, month, 1))
    if not months:
        return []
    step = math.ceil(len(months) / MAX_X_TICKS)
    return months[::step]


def exposure_chart(
    scans: Iterable[ChartScan], pair: tuple[date, date] | None = None
) -> ExposureChart:
    """The geometry of the chart of these scans; `pair` is the D1.O2.B pair to show."""
    ordered = sorted(scans, key=lambda s: s.scan_date)
    chart = ExposureChart()
    top, y_values = y_axis(max((s.critical_and_high for s in ordered), default=0))

    def y_of(value: int) -> float:
        return _r(chart.bottom - value / top * chart.plot_height)

    y_ticks = tuple(YTick(y_of(v), v) for v in y_values)
    if not ordered:
        return ExposureChart(y_ticks=y_ticks, y_max=top)

    first, last = ordered[0].scan_date, ordered[-1].scan_date
    span = (last - first).days
    inner_left, inner_right = chart.left + X_INSET, chart.right - X_INSET

    def x_of(day: date) -> float:
        if span == 0:  # a single date: in the middle of the plot
            return _r((chart.left + chart.right) / 2)
        return _r(inner_left + (day - first).days / span * (inner_right - inner_left))

    pair_dates = set(pair) if pair else set()
    points = tuple(
        ChartPoint(x_of(s.scan_date), y_of(s.critical_and_high), s, s.scan_date in pair_dates)
        for s in ordered
    )
    x_ticks = tuple(XTick(x_of(day), day) for day in month_ticks(first, last))
    if not x_ticks:  # no first of the month in range: label the scans themselves
        days = [first, last] if span else [first]
        x_ticks = tuple(XTick(x_of(day), day, month=False) for day in days)
    window = None
    if pair:
        x1, x2 = x_of(pair[0]), x_of(pair[1])
        window = PairWindow(x=x1, width=_r(x2 - x1), first=pair[0], second=pair[1])
    path = " ".join(f"{'M' if i == 0 else 'L'} {p.x} {p.y}" for i, p in enumerate(points))
    return ExposureChart(
        points=points,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        y_max=top,
        pair_window=window,
        line_path=path if len(points) > 1 else "",
        met_count=sum(1 for s in ordered if s.minimum_level_met),
    )


def _next_month(day: date) -> tuple[int, int]:
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


def _r(value: float) -> float:
    return round(value, 1)
