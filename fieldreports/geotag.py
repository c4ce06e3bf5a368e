"""locate: put each report on the route, offline, without exposing sources.

SKELETON: the data model and signatures the pipeline relies on; the bodies are being written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fieldreports.config import GeotagSettings
from fieldreports.gpx import Track
from fieldreports.inbox import FieldReport


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """Where a report was made. `lat`/`lon` are exact and stay private; `public_*` are published.

    `source` says which rule won: "notes", "gpx", "place", "text" or "none".
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

    @property
    def located(self) -> bool:
        return self.public_lat is not None and self.public_lon is not None


class Geotagger:
    """The gazetteer and tracks, loaded once per run."""

    def __init__(
        self, *, tracks: Sequence[Track], settings: GeotagSettings, timezone: str = "UTC"
    ) -> None:
        raise NotImplementedError

    def locate(
        self,
        report: FieldReport,
        *,
        transcript_text: str = "",
        nearby: Sequence[Location] = (),
    ) -> Location:
        """Resolve one report's location; ReportError for invalid coordinates."""
        raise NotImplementedError
