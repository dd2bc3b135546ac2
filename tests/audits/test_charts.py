"""Geometry of the exposure chart: scales, ticks, markers, the D1.O2.B window."""

from datetime import date, timedelta
from itertools import pairwise

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from audits.charts import (
    HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    MARGIN_TOP,
    MAX_X_TICKS,
    WIDTH,
    X_INSET,
    ChartScan,
    exposure_chart,
    month_ticks,
    nice_step,
    y_axis,
)

D0 = date(2025, 3, 10)
LEFT, RIGHT = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
TOP, BOTTOM = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM


def scan(offset: int, critical: int = 0, high: int = 0, met: bool = True) -> ChartScan:
    return ChartScan(
        scan_date=D0 + timedelta(days=offset),
        critical=critical,
        high=high,
        medium=5,
        low=9,
        minimum_level_met=met,
    )


@pytest.mark.parametrize(
    ("raw", "step"), [(0.2, 1), (1, 1), (1.4, 2), (2, 2), (3, 5), (7.4, 10), (12, 20), (60, 100)]
)
def test_nice_step_is_1_2_or_5_times_a_power_of_ten(raw, step):
    assert nice_step(raw) == step


@pytest.mark.parametrize(
    ("max_value", "top", "ticks"),
    [
        (0, 4, [0, 1, 2, 3, 4]),
        (3, 3, [0, 1, 2, 3]),
        (7, 8, [0, 2, 4, 6, 8]),
        (37, 40, [0, 10, 20, 30, 40]),
        (100, 100, [0, 20, 40, 60, 80, 100]),
    ],
)
def test_y_axis_runs_from_zero_to_a_round_top(max_value, top, ticks):
    assert y_axis(max_value) == (top, ticks)


def test_empty_chart_has_an_axis_but_no_marker_nor_line():
    chart = exposure_chart([])
    assert chart.is_empty
    assert chart.points == ()
    assert chart.line_path == ""
    assert chart.pair_window is None
    assert chart.x_ticks == ()
    assert [t.value for t in chart.y_ticks] == [0, 1, 2, 3, 4]
    assert chart.y_ticks[0].y == BOTTOM
    assert chart.y_ticks[-1].y == TOP
    assert chart.first_date is None
    assert chart.last_point is None


def test_single_scan_sits_in_the_middle_without_a_line():
    chart = exposure_chart([scan(0, critical=1, high=2)])
    (point,) = chart.points
    assert point.x == (LEFT + RIGHT) / 2
    # 3 vulnerabilities on an axis topped at 3: the point is at the top of the plot.
    assert chart.y_max == 3
    assert point.y == TOP
    assert chart.line_path == ""
    # No first of the month in range: the tick is the scan date itself.
    (tick,) = chart.x_ticks
    assert (tick.day, tick.month, tick.x) == (D0, False, point.x)


def test_x_is_a_time_scale_and_y_counts_critical_and_high():
    chart = exposure_chart([scan(0, high=8), scan(30, critical=2, high=2), scan(90)])
    first, middle, last = chart.points
    assert first.x == LEFT + X_INSET
    assert last.x == RIGHT - X_INSET
    # 30 days out of 90: a third of the way.
    assert middle.x == pytest.approx(first.x + (last.x - first.x) / 3, abs=0.1)
    assert chart.y_max == 8
    assert first.y == TOP
    assert last.y == BOTTOM
    assert middle.y == pytest.approx(BOTTOM - 4 / 8 * (BOTTOM - TOP), abs=0.1)
    assert chart.line_path == (f"M {first.x} {first.y} L {middle.x} {middle.y} L {last.x} {last.y}")


def test_scans_are_drawn_in_date_order_whatever_the_input_order():
    chart = exposure_chart([scan(60), scan(0), scan(30)])
    assert [p.scan.scan_date for p in chart.points] == [
        D0,
        D0 + timedelta(days=30),
        D0 + timedelta(days=60),
    ]
    assert [p.x for p in chart.points] == sorted(p.x for p in chart.points)


def test_markers_differ_by_shape_for_the_minimum_level():
    chart = exposure_chart([scan(0, met=True), scan(30, critical=1, met=False)])
    met, not_met = chart.points
    assert met.met and not not_met.met
    assert chart.met_count == 1
    # The triangle is centred on the point: apex above, base below.
    apex, right, left = (tuple(map(float, p.split(","))) for p in not_met.triangle.split())
    assert apex[0] == not_met.x and apex[1] < not_met.y
    assert left[1] == right[1] > not_met.y
    assert left[0] < not_met.x < right[0]


def test_pair_window_spans_the_two_scans_of_d1o2b():
    scans = [scan(0, met=False), scan(30), scan(80), scan(110)]
    pair = (D0 + timedelta(days=30), D0 + timedelta(days=80))
    chart = exposure_chart(scans, pair=pair)
    window = chart.pair_window
    assert window is not None
    x_by_date = {p.scan.scan_date: p.x for p in chart.points}
    assert window.x == x_by_date[pair[0]]
    assert window.x + window.width == pytest.approx(x_by_date[pair[1]], abs=0.1)
    assert window.gap_days == 50
    assert [p.in_pair for p in chart.points] == [False, True, True, False]


def test_no_pair_no_window():
    chart = exposure_chart([scan(0), scan(20)])
    assert chart.pair_window is None
    assert not any(p.in_pair for p in chart.points)


def test_month_ticks_are_firsts_of_month_thinned_to_a_few():
    assert month_ticks(date(2025, 1, 15), date(2025, 4, 2)) == [
        date(2025, 2, 1),
        date(2025, 3, 1),
        date(2025, 4, 1),
    ]
    assert month_ticks(date(2025, 1, 1), date(2025, 1, 31)) == [date(2025, 1, 1)]
    assert month_ticks(date(2025, 1, 2), date(2025, 1, 31)) == []
    # Three years of monthly scans: at most MAX_X_TICKS labels, evenly spaced, across a
    # year boundary.
    ticks = month_ticks(date(2023, 11, 5), date(2026, 10, 20))
    assert 1 < len(ticks) <= MAX_X_TICKS
    assert ticks[0] == date(2023, 12, 1)
    gaps = {(b.year - a.year) * 12 + b.month - a.month for a, b in pairwise(ticks)}
    assert len(gaps) == 1


def test_x_ticks_fall_inside_the_plot():
    chart = exposure_chart([scan(offset) for offset in range(0, 900, 30)])
    assert len(chart.points) == 30
    assert 1 < len(chart.x_ticks) <= MAX_X_TICKS
    assert all(LEFT <= t.x <= RIGHT for t in chart.x_ticks)
    assert all(t.month and t.day.day == 1 for t in chart.x_ticks)


def test_two_scans_in_the_same_month_are_labelled_by_their_dates():
    chart = exposure_chart([scan(1), scan(10)])  # 11 and 20 March
    assert [(t.day, t.month) for t in chart.x_ticks] == [
        (D0 + timedelta(days=1), False),
        (D0 + timedelta(days=10), False),
    ]


def test_svg_is_accessible_and_its_numbers_are_not_localised():
    chart = exposure_chart([scan(0, high=1), scan(45, high=3)], pair=(D0, D0 + timedelta(45)))
    with translation.override("fr"):
        svg = render_to_string("audits/_exposure_chart.svg.html", {"chart": chart})
    assert 'role="img"' in svg
    assert 'aria-labelledby="exposure-chart-title exposure-chart-desc"' in svg
    assert '<title id="exposure-chart-title">' in svg
    assert '<desc id="exposure-chart-desc">' in svg
    assert "<script" not in svg
    # French would write 12,5: an SVG coordinate needs 12.5.
    assert f'cx="{chart.points[0].x}"' in svg
    assert "," not in svg.split('d="', 1)[1].split('"', 1)[0]
    assert "D1.O2.B : 45 jours" in svg
    assert "10 mars 2025" in svg  # the description names the dates
