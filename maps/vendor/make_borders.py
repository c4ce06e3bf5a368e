"""Rebuild borders/countries-50m-europe.js from Natural Earth 1:50m admin-0 countries.

The source is the npm package world-atlas@2.0.2 (TopoJSON of Natural Earth, public domain):

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python maps/vendor/make_borders.py package/countries-50m.json

Only the countries that touch the Border Reached! region (Europe, North Africa, the Near East) are
kept, coordinates rounded to 0.01 degrees (about 1 km, finer than the 1:50m source needs), and the
result is written as a script that sets `window.fieldreportsBorders`, so the map can draw it even
when opened from a file:// URL, where fetch() of a .geojson file is refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BBOX = (-32.0, 17.0, 60.0, 72.0)  # west, south, east, north (degrees)
OUT = Path(__file__).parent / "borders" / "countries-50m-europe.js"


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    """Absolute lon/lat for every arc: TopoJSON stores quantised, delta-encoded positions."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(indexes: list[int], arcs: list[list[tuple[float, float]]]) -> list[list[float]]:
    out: list[tuple[float, float]] = []
    for i in indexes:
        points = arcs[i] if i >= 0 else arcs[~i][::-1]
        # consecutive arcs share their joining point
        out.extend(points[1:] if out else points)
    rounded: list[list[float]] = []
    for lon, lat in out:
        point = [round(lon, 2), round(lat, 2)]
        if not rounded or rounded[-1] != point:
            rounded.append(point)
    return rounded


def touches(rings: list[list[list[float]]]) -> bool:
    west, south, east, north = BBOX
    return any(west <= lon <= east and south <= lat <= north for r in rings for lon, lat in r)


def main(source: Path) -> None:
    topology = json.loads(source.read_text(encoding="utf-8"))
    arcs = decode_arcs(topology)
    polygons: list[list[list[list[float]]]] = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        if geometry["type"] == "Polygon":
            parts = [geometry["arcs"]]
        elif geometry["type"] == "MultiPolygon":
            parts = geometry["arcs"]
        else:
            continue
        for part in parts:
            rings = [ring(r, arcs) for r in part]
            if touches(rings) and len(rings[0]) >= 4:
                polygons.append(rings)
    collection = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "MultiPolygon", "coordinates": polygons},
    }
    text = json.dumps(collection, separators=(",", ":"))
    OUT.write_text(
        "/* Natural Earth 1:50m admin-0 countries (public domain), via world-atlas@2.0.2 (ISC);"
        " rebuilt by make_borders.py */\nwindow.fieldreportsBorders=" + text + ";\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
