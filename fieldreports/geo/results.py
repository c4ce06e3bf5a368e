"""Where reports were made: plain data, cheap to import, cached in the catalog as it is.

`Location` and `Placement` are private (they hold the exact point); `PublicLocation` is all of a
location that may be published.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from fieldreports.geo.coordinates import geo_uri


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """Where a report was made. `lat`/`lon` are exact and stay private; `public_*` are published.

    `source` says which rule won: "notes", "gpx", "place", "text" or "none". `accuracy_m` is
    how far the exact point may be off; `public_accuracy_m` the same for the published point.
    `name` is for display ("Lampedusa, Italy", "near Terespol, Poland"); for a sensitive report
    it names no more than the published point does. `note` says how the location was found
    (or why not), for the run's summary. A place name too doubtful to pin keeps its best guess
    in `lat`/`lon` but no public point: `doubt` says why and how to fix the notes.
    """

    source: str
    lat: float | None = None
    lon: float | None = None
    public_lat: float | None = None
    public_lon: float | None = None
    accuracy_m: float | None = None
    name: str = ""
    country_code: str = ""
    sensitive: bool = False
    public_accuracy_m: float | None = None
    note: str = ""
    # How sure the rule that found it is (1.0: coordinates or a GPS fix; a name matched in the
    # gazetteer less, see docs/geotagging.md), the other places the name could be, and, when
    # it is too unsure to publish, the warning that says so and what to write instead.
    confidence: float = 0.0
    alternatives: tuple[str, ...] = ()
    doubt: str = ""

    @property
    def located(self) -> bool:
        return self.public_lat is not None and self.public_lon is not None

    def public(self) -> PublicLocation | None:
        """All that may be published of this location, or None when it is not located."""
        if self.public_lat is None or self.public_lon is None:
            return None
        return PublicLocation(
            lat=self.public_lat,
            lon=self.public_lon,
            accuracy_m=self.public_accuracy_m,
            name=self.name,
            country_code=self.country_code,
            sensitive=self.sensitive,
            source=self.source,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicLocation:
    """What the feed, the map, the pages and the partners may say of where a report was made.

    It has no field for the exact point: for a sensitive report `lat`/`lon` are already the
    town or grid centre that `coarsen` chose, and `name` says no more than they do.
    """

    lat: float
    lon: float
    accuracy_m: float | None
    name: str
    country_code: str
    sensitive: bool
    source: str  # which rule found it: "notes", "gpx", "place", "text"

    @property
    def geo_uri(self) -> str:
        """The published point as an RFC 5870 `geo:` URI with its uncertainty.

        >>> PublicLocation(lat=35.5011, lon=12.6058, accuracy_m=12.4, name="Lampedusa",
        ...                country_code="IT", sensitive=False, source="notes").geo_uri
        'geo:35.5011,12.6058;u=12'
        """
        return geo_uri(self.lat, self.lon, accuracy_m=self.accuracy_m)


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """Where and when one report was made, or why it could not be placed (`error`).

    `recorded_at` comes from the notes or the recording's own creation-time tag (aware).
    `waypoints` are publishable (offset_s, lat, lon) for each chapter start: along the GPX
    track for a report recorded on the move, else the public point.
    """

    report_id: str
    recorded_at: dt.datetime | None = None
    location: Location | None = None
    waypoints: tuple[tuple[float, float, float], ...] = ()
    subject: Location | None = None  # the notes' `about`: what the report is about
    error: str = ""
    error_path: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Placements:
    placements: tuple[Placement, ...]

    def by_report(self) -> dict[str, Placement]:
        return {p.report_id: p for p in self.placements}
