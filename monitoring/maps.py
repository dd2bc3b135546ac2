"""The participation map: the regions of France (national page) or the départements of
a region (regional page), coloured by a rate in five classes of 20 points, each area a
link to its own page, labelled with its value so that it reads without colour.

Geometry: `monitoring/data/departements.json` (CC BY 4.0, see its README), built by
`monitoring.geometry`. The package draws the metropolitan départements only: the five
overseas regions (one département each) are drawn as labelled inset boxes."""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .geometry import DATA_FILE

# Overseas départements, their region and where their inset box goes on the national
# map (map units: the metropolitan map is 613 × 585, the insets sit on its left).
OVERSEAS: dict[str, str] = {"971": "01", "972": "02", "973": "03", "974": "04", "976": "06"}
INSET_X, INSET_WIDTH, INSET_HEIGHT, INSET_TOP, INSET_STEP = -150, 130, 88, 30, 108
NATIONAL_VIEW_BOX = (-160.0, 0.0, 773.0, 585.0)

# Five classes of 20 points, light to dark; the last one includes 100 %.
CLASS_BOUNDS = (0.2, 0.4, 0.6, 0.8)
CLASS_COLOURS = ("#ececfe", "#cacafb", "#8585f6", "#4747d1", "#000091")
NO_VALUE_COLOUR = "#ffffff"


@lru_cache(maxsize=1)
def geometry() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return data


def rate_class(rate: float | None) -> int | None:
    """0 to 4, or None without a value."""
    if rate is None:
        return None
    return sum(1 for bound in CLASS_BOUNDS if rate >= bound)


@dataclass(frozen=True)
class MapArea:
    code: str
    name: str
    url: str
    description: str  # what the link says: name and value
    display: str  # the value, as the table shows it
    fill: str
    dark: bool  # the fill is dark: the label is written in white
    hatched: bool  # no value (no denominator): hatched, not coloured
    paths: tuple[str, ...] = ()
    outline: str = ""
    label: str = ""  # the text written on the area (a code or a name)
    label_x: str = ""
    label_y: str = ""
    box: tuple[str, str, str, str] | None = None  # an inset: x, y, width, height
    # A label too big for its area is written beside the map, with a line to the area.
    leader: tuple[str, str, str, str] | None = None
    anchor: str = "middle"


@dataclass(frozen=True)
class LegendEntry:
    colour: str
    label: str
    count: int


@dataclass(frozen=True)
class ChoroplethMap:
    view_box: str
    areas: list[MapArea]
    legend: list[LegendEntry]
    font_size: str
    line_height: str
    halo: str  # the width of the outline that keeps labels readable on any fill
    stroke: str
    has_hatching: bool


def _r(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class AreaValue:
    """What the caller knows of an area: its name, rate, value text and link."""

    code: str
    name: str
    rate: float | None
    display: str
    url: str
    description: str


def _fill(rate: float | None) -> tuple[str, bool]:
    index = rate_class(rate)
    if index is None:
        return NO_VALUE_COLOUR, False
    return CLASS_COLOURS[index], index >= 3


def _area(value: AreaValue, **placement: Any) -> MapArea:
    """The area of a value: its name, link and fill; `placement` says where it is drawn
    and labelled (and may set `dark` for a label written beside the map)."""
    fill, dark = _fill(value.rate)
    placement.setdefault("dark", dark)
    return MapArea(
        code=value.code,
        name=value.name,
        url=value.url,
        description=value.description,
        display=value.display,
        fill=fill,
        hatched=value.rate is None,
        **placement,
    )


def _choropleth(
    values: Sequence[AreaValue],
    legend_labels: Sequence[str],
    no_value: str,
    areas: list[MapArea],
    *,
    view_box: str,
    font_size: str,
    line_height: str,
    halo: str,
    stroke: str,
) -> ChoroplethMap:
    """The map of these areas, with the legend of their values."""
    return ChoroplethMap(
        view_box=view_box,
        areas=areas,
        legend=legend(values, legend_labels, no_value),
        font_size=font_size,
        line_height=line_height,
        halo=halo,
        stroke=stroke,
        has_hatching=any(v.rate is None for v in values),
    )


def legend(values: Sequence[AreaValue], labels: Sequence[str], no_value: str) -> list[LegendEntry]:
    """One entry per class with how many areas fall in it; the "no value" entry last."""
    counts = [0] * len(CLASS_COLOURS)
    missing = 0
    for value in values:
        index = rate_class(value.rate)
        if index is None:
            missing += 1
        else:
            counts[index] += 1
    entries = [
        LegendEntry(colour, label, count)
        for colour, label, count in zip(CLASS_COLOURS, labels, counts, strict=True)
    ]
    entries.append(LegendEntry(NO_VALUE_COLOUR, no_value, missing))
    return entries


def national_map(
    values: Sequence[AreaValue], legend_labels: Sequence[str], no_value: str
) -> ChoroplethMap:
    """The regions: metropolitan ones drawn from their départements, with their outline;
    the overseas ones as inset boxes on the left."""
    data = geometry()
    areas = []
    overseas_regions = {region: dept for dept, region in OVERSEAS.items()}
    for value in values:
        if value.code in overseas_regions:
            index = sorted(overseas_regions).index(value.code)
            x, y = INSET_X, INSET_TOP + index * INSET_STEP
            areas.append(
                _area(
                    value,
                    label=value.name,
                    label_x=_r(x + INSET_WIDTH / 2),
                    label_y=_r(y + INSET_HEIGHT / 2 - 4),
                    box=(_r(x), _r(y), _r(INSET_WIDTH), _r(INSET_HEIGHT)),
                )
            )
            continue
        region = data["regions"].get(value.code)
        if region is None:
            continue
        paths = tuple(
            d["path"] for _, d in sorted(data["departments"].items()) if d["region"] == value.code
        )
        areas.append(
            _area(
                value,
                paths=paths,
                outline=region["outline"],
                label=value.name,
                label_x=_r(region["label"][0]),
                label_y=_r(region["label"][1]),
            )
        )
    return _choropleth(
        values,
        legend_labels,
        no_value,
        areas,
        view_box=" ".join(_r(v) for v in NATIONAL_VIEW_BOX),
        font_size="11",
        line_height="13",
        halo="3",
        stroke="0.6",
    )


def regional_map(
    region_code: str,
    values: Sequence[AreaValue],
    legend_labels: Sequence[str],
    no_value: str,
) -> ChoroplethMap:
    """The départements of one region, framed on it; an overseas region is one box."""
    data = geometry()
    departments = data["departments"]
    present = [v for v in values if v.code in departments]
    areas: list[MapArea] = []
    if not present:
        # Overseas: its one département as a box.
        for index, value in enumerate(values):
            x, y = 10 + index * 140, 10
            areas.append(
                _area(
                    value,
                    label=f"{value.code} {value.name}",
                    label_x=_r(x + 60),
                    label_y=_r(y + 36),
                    box=(_r(x), _r(y), "120", "80"),
                )
            )
        width = 20 + 140 * max(1, len(values)) - 20
        return _choropleth(
            values,
            legend_labels,
            no_value,
            areas,
            view_box=f"0 0 {width} 100",
            font_size="11",
            line_height="13",
            halo="3",
            stroke="1",
        )
    boxes = [departments[v.code]["bbox"] for v in present]
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[2] for b in boxes)
    y1 = max(b[3] for b in boxes)
    size = max(x1 - x0, y1 - y0)
    margin = size * 0.04
    font = size / 30
    # An area narrower than its label ("93" over "48,9 %") gets its label beside the map.
    small = {
        v.code
        for v in present
        if departments[v.code]["bbox"][2] - departments[v.code]["bbox"][0] < font * 4.5
    }
    callout_x = x1 + margin * 2
    next_y = y0 + font
    callouts: dict[str, tuple[float, float]] = {}
    for value in sorted(
        (v for v in present if v.code in small), key=lambda v: departments[v.code]["label"][1]
    ):
        y = max(departments[value.code]["label"][1], next_y)
        callouts[value.code] = (callout_x, y)
        next_y = y + font * 2.8
    for value in present:
        department = departments[value.code]
        lx, ly = department["label"]
        placement: dict[str, Any] = {}
        if value.code in callouts:
            cx, cy = callouts[value.code]
            placement["leader"] = (_r(lx), _r(ly), _r(cx - font * 0.3), _r(cy - font * 0.3))
            lx, ly = cx, cy
            placement["anchor"] = "start"
            placement["dark"] = False  # written on the page, not on the area
        areas.append(
            _area(
                value,
                paths=(department["path"],),
                label=value.code,
                label_x=_r(lx),
                label_y=_r(ly),
                **placement,
            )
        )
    right = max(x1, callout_x + font * 5) if callouts else x1
    bottom = max(y1, next_y) if callouts else y1
    return _choropleth(
        values,
        legend_labels,
        no_value,
        areas,
        view_box=" ".join(
            _r(v)
            for v in (x0 - margin, y0 - margin, right - x0 + 2 * margin, bottom - y0 + 2 * margin)
        ),
        font_size=_r(font),
        line_height=_r(font * 1.2),
        halo=_r(font / 4),
        stroke=_r(size / 400),
    )


def area_values(
    rows: Sequence[Any],
    rate_of: Callable[[Any], float | None],
    display_of: Callable[[float | None], str],
    url_of: Callable[[str], str],
    describe: Callable[[str, str], str],
) -> list[AreaValue]:
    """AreaValue of each breakdown row (key, label, figures)."""
    result = []
    for row in rows:
        rate = rate_of(row.figures)
        display = display_of(rate)
        result.append(
            AreaValue(
                code=row.key,
                name=row.label,
                rate=rate,
                display=display,
                url=url_of(row.key),
                description=describe(row.label, display),
            )
        )
    return result
