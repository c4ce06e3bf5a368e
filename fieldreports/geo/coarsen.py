"""Source protection: publish a sensitive report's position only as a town or a ~10 km square.

Some places must not be found from a podcast: a safe house, a camp in the woods, the spot where
people crossed. For a sensitive report the published point (feed, map, chapters, partners
manifest) is either the centre of the nearest town, which says no more than "in or near this
town", or the centre of a fixed square of the grid. The exact point stays in the private catalog.

No random jitter: several reports from one spot, each jittered anew, average back to the spot.
A fixed snap gives every report from that spot the same published point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fieldreports.geo.gazetteer import Gazetteer

KM_PER_DEGREE_LAT = 111.32


@dataclass(frozen=True, slots=True, kw_only=True)
class CoarsePoint:
    """A published stand-in for an exact point, and how far it may be from it."""

    lat: float
    lon: float
    accuracy_m: float
    method: str  # "town" or "grid"
    town: str = ""


def grid_centre(lat: float, lon: float, cell_km: float) -> tuple[float, float]:
    """The centre of the roughly square `cell_km` grid cell that holds the point.

    Rows are `cell_km` of latitude; each row is cut into columns `cell_km` wide at the row's
    middle, so cells stay square away from the equator.

    >>> grid_centre(52.0755, 23.6161, 10.0)
    (52.05713, 23.59458)
    >>> grid_centre(52.0755, 23.6161, 10.0) == grid_centre(52.08, 23.62, 10.0)  # same cell
    True
    """
    lat_step = cell_km / KM_PER_DEGREE_LAT
    centre_lat = (math.floor(lat / lat_step) + 0.5) * lat_step
    lon_step = cell_km / (KM_PER_DEGREE_LAT * max(math.cos(math.radians(centre_lat)), 0.01))
    centre_lon = (math.floor(lon / lon_step) + 0.5) * lon_step
    return round(centre_lat, 5), round(centre_lon, 5)


def coarsen(
    lat: float,
    lon: float,
    *,
    gazetteer: Gazetteer,
    cell_km: float = 10.0,
    town_population: int = 5000,
) -> CoarsePoint:
    """The point to publish for a sensitive report made at (`lat`, `lon`).

    The nearest town of at least `town_population` people within `cell_km`, else the centre
    of the `cell_km` grid cell.
    """
    hit = gazetteer.nearest(lat, lon, min_population=town_population, max_km=cell_km)
    if hit is not None:
        town = hit[0]
        # Never the true distance: published, it would draw a circle through the exact point.
        return CoarsePoint(
            lat=town.lat,
            lon=town.lon,
            accuracy_m=max(cell_km * 1000.0, town.accuracy_m),
            method="town",
            town=gazetteer.label(town),
        )
    centre_lat, centre_lon = grid_centre(lat, lon, cell_km)
    # A cell's corner is half its diagonal from the centre.
    return CoarsePoint(
        lat=centre_lat,
        lon=centre_lon,
        accuracy_m=cell_km / math.sqrt(2) * 1000.0,
        method="grid",
    )
