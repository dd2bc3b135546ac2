"""The map's geometry and the charts' scales, as pure functions (no database)."""

import pytest

from establishments.reference import DEPARTMENTS
from monitoring import charts, geometry, maps

METROPOLITAN = {code for code, _name, _region, _chef in DEPARTMENTS if not code.startswith("97")}


def test_relative_and_absolute_paths_give_the_same_rings():
    relative = geometry.parse_rings("m 10,10 10,0 0,10 -10,0 z m 30,0 5,0 0,5 z")
    absolute = geometry.parse_rings("M 10,10 L 20,10 20,20 10,20 Z M 40,10 L 45,10 45,15 Z")
    assert relative == absolute
    assert relative[0] == [(10, 10), (20, 10), (20, 20), (10, 20)]
    assert abs(geometry.ring_area(relative[0])) == 100
    assert geometry.ring_centroid(relative[0]) == pytest.approx((15, 15))
    with pytest.raises(geometry.GeometryError):
        geometry.parse_rings("m 10,10 c 1,2")


def test_the_outline_of_two_squares_drops_their_shared_border():
    left = geometry.parse_rings("M 0,0 L 10,0 10,10 0,10 Z")
    right = geometry.parse_rings("M 10,0 L 20,0 20,10 10,10 Z")
    outline = geometry.outline([left, right])
    # The shared edge x=10 is gone; the six outer edges remain.
    assert "10,0 10,10" not in outline and "10,10 10,0" not in outline
    points = {tuple(map(float, p.split(","))) for p in outline.replace("M", " ").split()}
    assert points == {(0, 0), (10, 0), (20, 0), (20, 10), (10, 10), (0, 10)}


def test_the_data_file_covers_metropolitan_france():
    data = maps.geometry()
    assert set(data["departments"]) == METROPOLITAN
    assert len(data["regions"]) == 13  # the five overseas regions are insets
    for code, department in data["departments"].items():
        x0, y0, x1, y1 = department["bbox"]
        x, y = department["label"]
        assert x0 <= x <= x1 and y0 <= y <= y1, code
    for region in data["regions"].values():
        assert region["outline"].startswith("M")


@pytest.mark.parametrize(
    "rate, expected",
    [(None, None), (0.0, 0), (0.1999, 0), (0.2, 1), (0.5, 2), (0.79, 3), (0.8, 4), (1.0, 4)],
)
def test_rate_classes(rate, expected):
    assert maps.rate_class(rate) == expected


def _values(codes, rate=0.5):
    return [
        maps.AreaValue(code, f"Zone {code}", rate, "50 %", f"/x/{code}/", f"Zone {code} : 50 %")
        for code in codes
    ]


LEGEND = ["a", "b", "c", "d", "e"]


def test_national_map_has_every_region_and_the_overseas_insets():
    regions = ["01", "02", "03", "04", "06", "11", "24", "27", "28", "32"]
    regions += ["44", "52", "53", "75", "76", "84", "93", "94"]
    values = _values(regions)
    values[0] = maps.AreaValue("01", "Guadeloupe", None, "—", "/x/01/", "Guadeloupe : sans objet")
    drawn = maps.national_map(values, LEGEND, "sans objet")
    assert len(drawn.areas) == 18
    insets = [a for a in drawn.areas if a.box]
    assert [a.code for a in insets] == ["01", "02", "03", "04", "06"]
    assert insets[0].hatched and not insets[1].hatched
    assert all(a.paths and a.outline for a in drawn.areas if not a.box)
    assert [e.count for e in drawn.legend] == [0, 0, 17, 0, 0, 1]


def test_small_departements_are_labelled_beside_the_regional_map():
    codes = ["75", "77", "78", "91", "92", "93", "94", "95"]
    drawn = maps.regional_map("11", _values(codes), LEGEND, "sans objet")
    beside = {a.code for a in drawn.areas if a.leader}
    assert beside >= {"75", "92", "94"}
    assert "77" not in beside
    overseas = maps.regional_map("01", _values(["971"]), LEGEND, "sans objet")
    assert overseas.areas[0].box is not None


def test_bar_chart_scales_and_missing_values():
    chart = charts.bar_chart([("a", 0.5, "50 %"), ("b", None, "—"), ("c", 1.0, "100 %")], 1)
    widths = [float(b.width) for b in chart.bars]
    assert widths[0] * 2 == pytest.approx(widths[2])
    assert widths[1] == 0 and chart.bars[1].missing
    counts = charts.bar_chart([("a", 10, "10"), ("b", 40, "40")])
    assert float(counts.bars[1].width) == pytest.approx(4 * float(counts.bars[0].width))


def test_line_chart_ticks():
    from datetime import date, timedelta

    days = [date(2025, 9, 1) + timedelta(days=7 * i) for i in range(20)]
    chart = charts.line_chart(days, [("a", list(range(20))), ("b", [0] * 20)])
    assert [t.label for t in chart.y_ticks] == ["0", "5", "10", "15", "20"]
    assert len(chart.x_ticks) <= charts.MAX_X_LABELS
    assert chart.lines[0].marker != chart.lines[1].marker
    assert chart.lines[0].path.startswith("M")
    assert charts.nice_step(0) == 1 and charts.nice_step(7) == 2 and charts.nice_step(230) == 50
