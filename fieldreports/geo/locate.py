"""locate: put each report on the route, offline, without exposing sources.

Reporters rarely type coordinates. They carry a phone that logs a GPX track, they write "Röszke"
or "the harbour in Lampedusa", or they say where they are on tape. `Geotagger.locate` tries, in
order, and records which rule won as `Location.source`:

1. "notes": explicit `lat`/`lon` in the front matter (checked for swapped values);
2. "gpx": the show's GPX tracks at the recording time (see `recording_time`), interpolated;
3. "place": the notes' `place`, from the offline gazetteer (see `gazetteer.py`);
4. "text": a place name in the notes' body or the transcript, in the journey's countries;
5. "none": not located; the episode is published off the map.

The journey's countries are the `[geotag] countries` setting, plus the countries of the other
stops (`nearby`) and of the GPX tracks. They settle ambiguous names, catch swapped coordinates,
and bound the search in free text.

A name is only as good as its match, so every location says how sure it is (`confidence`) and
what else the name could be (`alternatives`). A name the journey moved away from its most
likely match (the place whose own name it is, the most populous: "Salzburg" is Salzburg,
Austria, and also the German name of Ocna Sibiului, Romania), or a match more than `FAR_KM`
from the journey's other stops, is pinned only when the choice is clear (`_settle`); otherwise
the report goes off the map with a `doubt` naming the file, the candidates and the fix
(`place: Salzburg, Austria`, or coordinates), which `run` and `status` show.

A sensitive report (`sensitive: true`, or `[geotag] sensitive`) keeps its exact point in
`lat`/`lon`, which stay in the private catalog, and publishes only `public_lat`/`public_lon`,
snapped to the nearest town or a ~10 km grid (`coarsen.py`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from fieldreports.config import GeotagSettings
from fieldreports.errors import ReportError, SetupError
from fieldreports.geo.coarsen import coarsen
from fieldreports.geo.coordinates import (
    coordinate_accuracy_m,
    distance_km,
    parse_coordinates,
)
from fieldreports.geo.gazetteer import Gazetteer, Place, fold, load_gazetteer
from fieldreports.geo.gpx import Track, TrackIndex
from fieldreports.geo.results import Location, PublicLocation
from fieldreports.intake.inbox import FieldReport
from fieldreports.intake.recorder_tags import read_tags, recording_time, tagged_position
from fieldreports.times import as_aware

log = logging.getLogger(__name__)

SOURCES = ("notes", "gpx", "place", "text", "none")
_TRACK_SAMPLES = 200  # points per track looked up for the journey's countries
# A phone's fix stored in its recording: taken at the start, often from the network when GPS
# is slow to lock, so trust it to tens of metres, not to the metre.
FILE_FIX_ACCURACY_M = 50.0
# A named place further than this from every other stop of its journey is a doubtful match
# unless its name is clear.
FAR_KM = 300.0
# Confidence of each way of finding a place (Location.confidence).
CONFIDENCE = {
    "notes": 1.0,
    "gpx": 1.0,
    "unique": 0.9,  # a name (with its country, if given) that means one place
    "settled": 0.7,  # ambiguous, but the journey or the name settles it clearly
    "doubtful": 0.3,  # ambiguous and unsettled: not published
}
# In free text a match is less sure than in the `place` the reporter typed.
TEXT_CONFIDENCE = 0.8

__all__ = ["SOURCES", "Geotagger", "LocatedBatch", "Location", "PublicLocation", "recording_time"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    """`_settle`'s answer: the place chosen, the most likely by name and size, why, whether
    the choice is clear enough to publish, and the candidates' labels (the chosen first; the
    most likely first when unclear)."""

    place: Place
    likely: Place
    why: str
    clear: bool
    labels: tuple[str, ...]


def _either(labels: Sequence[str]) -> str:
    """ "A or B", "A, B or C".

    >>> _either(["Salzburg, Austria", "Ocna Sibiului, Romania"])
    'Salzburg, Austria or Ocna Sibiului, Romania'
    """
    return " or ".join(list(labels)[:4])


@dataclass(frozen=True, slots=True, kw_only=True)
class LocatedBatch:
    """`Geotagger.locate_all`'s result: a Location per report id, or the error that stopped it."""

    locations: Mapping[str, Location]
    errors: Mapping[str, ReportError]


class Geotagger:
    """The gazetteer and tracks, loaded once per run."""

    def __init__(
        self,
        *,
        tracks: Sequence[Track],
        settings: GeotagSettings,
        timezone: str = "UTC",
        gazetteer: Gazetteer | None = None,
        sensitive_by_default: bool = False,
    ) -> None:
        self._tracks = TrackIndex(tracks)
        self._sensitive_by_default = sensitive_by_default
        # ffprobe once per recording, not once per pass and chapter.
        self._tags: dict[Path, dict[str, str]] = {}
        self._settings = settings
        self._timezone = timezone
        self._gazetteer = gazetteer if gazetteer is not None else load_gazetteer()
        unknown = [c for c in settings.country_codes if not self._known_country(c)]
        if unknown:
            raise SetupError(
                f"[geotag] countries: unknown country code {', '.join(map(repr, unknown))}; "
                'use ISO 3166 two-letter codes, like countries = "PL, BY".'
            )
        self._track_countries = self._countries_along(self._tracks.tracks)
        if self._track_countries:
            log.debug("the GPX tracks pass through %s", ", ".join(sorted(self._track_countries)))

    @property
    def gazetteer(self) -> Gazetteer:
        return self._gazetteer

    def journey_countries(self, nearby: Sequence[Location] = ()) -> frozenset[str]:
        """The setting's countries, the other stops' and the tracks'."""
        return (
            frozenset(self._settings.country_codes)
            | {n.country_code for n in nearby if n.country_code}
            | self._track_countries
        )

    def locate(
        self,
        report: FieldReport,
        *,
        transcript_text: str = "",
        nearby: Sequence[Location] = (),
    ) -> Location:
        """Resolve one report's location; ReportError for invalid coordinates."""
        countries = self.journey_countries(nearby)
        sensitive = self.is_sensitive(report)
        misses: list[str] = []  # why each rule gave nothing, for the summary
        nearby = [n for n in nearby if not n.doubt]  # a doubtful stop settles nothing
        found = (
            self._from_notes(report, countries)
            or self._from_tracks(report, misses)
            or self._from_place(report, countries, nearby, misses)
            or self._from_text(report, transcript_text, countries, nearby, misses)
        )
        if found is None:
            why = "; ".join(["no coordinates in the notes", *misses])
            log.info("%s: not located (%s); it is published off the map", report.id, why)
            return Location(source="none", sensitive=sensitive, note=f"not located: {why}")
        return self._publishable(found, sensitive=sensitive)

    def subject(self, report: FieldReport, *, nearby: Sequence[Location] = ()) -> Location | None:
        """Where the report's subject is (the notes' `about`), published by the same rules as
        where it was recorded: coarsened for a sensitive report, and only when the name is clear.
        None when the notes name no subject, or name one the gazetteer cannot settle."""
        text = report.notes.about
        if not text:
            return None
        countries = self.journey_countries(nearby)
        named, candidates, hinted = self._place_candidates(text, countries)
        if not candidates:
            log.warning("%s: about %r is not in the offline gazetteer", report.id, text)
            return None
        settled = self._settle(named, candidates, hinted or countries, nearby)
        if not settled.clear:
            log.warning("%s: about %r is not clear (%s); left out", report.id, text, settled.why)
            return None
        found = self._at_place(settled, "about", f'about "{text}"')
        return self._publishable(found, sensitive=self.is_sensitive(report))

    def is_sensitive(self, report: FieldReport) -> bool:
        """Whether only an approximate place may be published for `report`.

        `[geotag] sensitive` makes every report sensitive. Otherwise the notes decide; when they
        do not say, the show's `sensitive_by_default` does, and a recording whose notes have not
        arrived (an upload sends them separately) is sensitive until they do.
        """
        if self._settings.sensitive:
            return True
        if report.notes.sensitive is not None:
            return report.notes.sensitive
        return self._sensitive_by_default or report.notes_path is None

    def locate_all(
        self, reports: Sequence[FieldReport], *, transcripts: Mapping[str, str] | None = None
    ) -> LocatedBatch:
        """Locate a batch, each report with the other stops of its journey as `nearby`.

        Two passes: the first places every report on its own; the second locates each again
        with the first pass's locations of the other reports of the same `journey` (all
        reports when the notes name none), so ambiguous names and swapped coordinates are
        judged in context. `transcripts` maps report ids to transcript text.
        """
        texts = transcripts or {}
        first: dict[str, Location] = {}
        for report in reports:
            try:
                first[report.id] = self.locate(report, transcript_text=texts.get(report.id, ""))
            except ReportError:
                continue
        locations: dict[str, Location] = {}
        errors: dict[str, ReportError] = {}
        for report in reports:
            journey = fold(report.notes.journey)
            nearby = tuple(
                first[other.id]
                for other in reports
                if other.id != report.id
                and other.id in first
                and first[other.id].source in ("notes", "gpx", "place")
                and (not journey or fold(other.notes.journey) in ("", journey))
            )
            try:
                locations[report.id] = self.locate(
                    report, transcript_text=texts.get(report.id, ""), nearby=nearby
                )
            except ReportError as exc:
                errors[report.id] = exc
        return LocatedBatch(locations=locations, errors=errors)

    def route_points(
        self, report: FieldReport, location: Location, *, offsets_s: Sequence[float]
    ) -> tuple[tuple[float, float], ...]:
        """Publishable (lat, lon) for moments `offsets_s` seconds into the recording.

        For chapters with `waypoints: true`: a report recorded on the move traces its stretch
        of the GPX track, one point per chapter start. A sensitive report, one not located by
        GPX, or a moment the track does not cover gets the location's public point, so this
        never publishes more than `public_lat`/`public_lon` do. Empty when not located.
        """
        if location.public_lat is None or location.public_lon is None:
            return ()
        public = (location.public_lat, location.public_lon)
        when = self.recording_time(report)
        if location.sensitive or location.source != "gpx" or when is None:
            return tuple(public for _ in offsets_s)
        start = when + dt.timedelta(seconds=self._settings.clock_offset_s)
        max_gap_s = self._settings.max_gap_minutes * 60.0
        points: list[tuple[float, float]] = []
        for offset_s in offsets_s:
            fix = self._tracks.position_at(
                start + dt.timedelta(seconds=offset_s),
                max_gap_s=max_gap_s,
                only=self._tracks_of(report),
            )
            points.append((round(fix.lat, 6), round(fix.lon, 6)) if fix else public)
        return tuple(points)

    # ---- the rules, in order ---------------------------------------------------------------

    def _from_notes(self, report: FieldReport, countries: frozenset[str]) -> Location | None:
        lat, lon = report.notes.lat, report.notes.lon
        note = "coordinates in the notes"
        if lat is not None and lon is not None:
            accuracy_m = coordinate_accuracy_m(lat, lon)
        elif (typed := parse_coordinates(report.notes.place)) is not None:
            # A phone's map app copies coordinates, and reporters paste them into `place`.
            lat, lon, accuracy_m = typed
            note = f'coordinates in place "{report.notes.place}"'
            if abs(lat) > 90 or abs(lon) > 180:
                raise ReportError(
                    f'place = "{report.notes.place}" reads as lat {lat}, lon {lon}, which is out '
                    "of range: latitude lies between -90 and 90, longitude between -180 and 180.",
                    path=report.notes_path or report.audio_path,
                )
        else:
            return None
        self._check_not_swapped(report, lat, lon, countries)
        name, place = self._gazetteer.describe(lat, lon)
        return Location(
            source="notes",
            confidence=CONFIDENCE["notes"],
            lat=lat,
            lon=lon,
            accuracy_m=accuracy_m,
            name=name,
            country_code=self._country_at(lat, lon, place),
            note=note,
        )

    def _from_tracks(self, report: FieldReport, misses: list[str]) -> Location | None:
        """The GPX tracks at the recording time, or else the recording's own GPS tag.

        Never the tag of a recording whose notes have not arrived: they may say it is sensitive.
        """
        found = self._on_track(report, misses)
        if found is not None and (found.accuracy_m or 0.0) <= FILE_FIX_ACCURACY_M:
            return found
        if report.notes_path is None:
            return found
        tagged = tagged_position(self._file_tags(report))
        if tagged is None:
            return found
        # The phone's own fix, taken as it recorded, beats a guess across a long hop.
        lat, lon = tagged
        name, place = self._gazetteer.describe(lat, lon)
        return Location(
            source="gpx",
            confidence=CONFIDENCE["gpx"],
            lat=lat,
            lon=lon,
            accuracy_m=FILE_FIX_ACCURACY_M,
            name=name,
            country_code=self._country_at(lat, lon, place),
            note="the recording's own GPS tag",
        )

    def _on_track(self, report: FieldReport, misses: list[str]) -> Location | None:
        if not self._tracks.tracks:
            misses.append("no GPX tracks")
            return None
        when = self.recording_time(report)
        if when is None:
            misses.append("no recording time (no recorded_at, no creation-time tag)")
            return None
        moment = when + dt.timedelta(seconds=self._settings.clock_offset_s)
        fix = self._tracks.position_at(
            moment,
            max_gap_s=self._settings.max_gap_minutes * 60.0,
            only=self._tracks_of(report),
        )
        if fix is None:
            miss = (
                f"no GPX fix around {moment.isoformat()} "
                f"(none, or a gap over {self._settings.max_gap_minutes:g} minutes)"
            )
            log.debug("%s: %s", report.id, miss)
            misses.append(miss)
            return None
        name, place = self._gazetteer.describe(fix.lat, fix.lon)
        return Location(
            source="gpx",
            confidence=CONFIDENCE["gpx"],
            lat=fix.lat,
            lon=fix.lon,
            accuracy_m=round(fix.accuracy_m, 1),
            name=name,
            country_code=self._country_at(fix.lat, fix.lon, place),
            note=f"GPX track {fix.track.name!r} at {moment.isoformat()}",
        )

    def _from_place(
        self,
        report: FieldReport,
        countries: frozenset[str],
        nearby: Sequence[Location],
        misses: list[str],
    ) -> Location | None:
        text = report.notes.place
        if not text:
            misses.append("no place in the notes")
            return None
        named, candidates, hinted = self._place_candidates(text, countries)
        if not candidates:
            log.warning("%s: place %r is not in the offline gazetteer", report.id, text)
            misses.append(f'place "{text}" is not in the offline gazetteer')
            return None
        settled = self._settle(named, candidates, hinted or countries, nearby)
        if settled.why:
            log.info("%s: %s", report.id, settled.why)
        location = self._at_place(
            settled, "place", f'place "{text}"' + (f"; {settled.why}" if settled.why else "")
        )
        if settled.clear:
            return location
        where = (report.notes_path or report.audio_path).name
        best = settled.likely
        fix = f"{best.name}, {self._gazetteer.country_name(best.country_code)}"
        return replace(
            location,
            doubt=f'{where}: place "{text}" could be {_either(settled.labels)}; add a country: '
            f"place: {fix} (or give lat and lon)",
        )

    def _from_text(
        self,
        report: FieldReport,
        transcript_text: str,
        countries: frozenset[str],
        nearby: Sequence[Location],
        misses: list[str],
    ) -> Location | None:
        if not countries:
            misses.append("the journey's countries are unknown, so the text was not searched")
            return None
        mentions = [
            *self._gazetteer.mentions(report.notes.title, countries=countries),
            *self._gazetteer.mentions(report.notes.body, countries=countries),
            *self._gazetteer.mentions(transcript_text, countries=countries),
        ]
        if not mentions:
            misses.append(f"no place in {', '.join(sorted(countries))} named in the text")
            return None
        # The name said most often wins; of equals, the first (notes come before the tape).
        counts = Counter(fold(m.text) for m in mentions)
        chosen = max(mentions, key=lambda m: counts[fold(m.text)])
        settled = self._settle(chosen.text, chosen.places, countries, nearby)
        detail = f'"{chosen.text}" named in the notes or transcript' + (
            f"; {settled.why}" if settled.why else ""
        )
        log.info("%s: located from text: %s", report.id, detail)
        location = self._at_place(settled, "text", detail)
        location = replace(location, confidence=round(location.confidence * TEXT_CONFIDENCE, 2))
        if settled.clear:
            return location
        where = (report.notes_path or report.audio_path).name
        return replace(
            location,
            doubt=f'{where}: "{chosen.text}", named in the notes or transcript, could be '
            f"{_either(settled.labels)}; add a place with its country (place: "
            f"{settled.likely.name}, {self._gazetteer.country_name(settled.likely.country_code)})",
        )

    # ---- helpers ---------------------------------------------------------------------------

    def _at_place(self, settled: Settled, source: str, note: str) -> Location:
        place = settled.place
        kind = "unique" if len(settled.labels) == 1 else "settled" if settled.clear else "doubtful"
        return Location(
            source=source,
            lat=place.lat,
            lon=place.lon,
            accuracy_m=place.accuracy_m,
            name=self._gazetteer.label(place),
            country_code=place.country_code,
            note=note,
            confidence=CONFIDENCE[kind],
            alternatives=tuple(label for label in settled.labels[1:]),
        )

    def _publishable(self, found: Location, *, sensitive: bool) -> Location:
        assert found.lat is not None and found.lon is not None
        if found.doubt:
            log.warning("%s", found.doubt)
            return replace(found, sensitive=sensitive)  # no public point: off the map
        if not sensitive:
            return replace(
                found,
                public_lat=found.lat,
                public_lon=found.lon,
                public_accuracy_m=found.accuracy_m,
            )
        coarse = coarsen(
            found.lat,
            found.lon,
            gazetteer=self._gazetteer,
            cell_km=self._settings.coarsen_km,
            town_population=self._settings.coarsen_town_population,
        )
        # The display name is made from the published point, so it tells no more than it.
        name = (
            f"near {coarse.town}"
            if coarse.town
            else self._gazetteer.describe(coarse.lat, coarse.lon)[0]
        )
        return replace(
            found,
            public_lat=coarse.lat,
            public_lon=coarse.lon,
            public_accuracy_m=max(coarse.accuracy_m, found.accuracy_m or 0.0),
            name=name,
            sensitive=True,
            note=f"{found.note}; published coarsened to the nearest {coarse.method}",
        )

    def _place_candidates(
        self, text: str, countries: frozenset[str]
    ) -> tuple[str, tuple[Place, ...], frozenset[str]]:
        """What a `place` value names: the matched words, the places, and any country hint.

        "Samos, Greece" and "Idomeni (GR)" carry a country; "the harbour in Lampedusa" holds
        the name among other words, found by trying its word runs, longest first.
        """
        parts = [p.strip() for p in re.split(r"[,;()/]", text) if p.strip()]
        hinted = frozenset(
            code for part in parts[1:] if (code := self._gazetteer.country_code(part))
        )
        names = [p for p in parts if not (hinted and self._gazetteer.country_code(p))] or parts
        whole = " ".join(names)
        found = self._gazetteer.lookup(whole, countries=hinted)
        if found:
            return whole, found, hinted
        words = re.findall(r"[^\W\d_][\w'’-]*", whole)
        best: tuple[tuple[int, bool, bool, int, int], str, tuple[Place, ...]] | None = None
        for size in range(min(4, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                phrase = " ".join(words[start : start + size])
                places = self._gazetteer.lookup(phrase, countries=hinted)
                if not places or len(fold(phrase)) < 3:
                    continue
                in_journey = any(p.country_code in countries for p in places)
                own = any(p.curated or self._gazetteer.is_own_name(p, phrase) for p in places)
                largest = max(p.population for p in places)
                # A capital on the first word may only open the phrase ("Police station in
                # Kelebija"); a capital later in it marks a name.
                capital = 0 if not phrase[0].isupper() else 1 if start == 0 else 2
                score = (capital, in_journey, own, size, largest)
                if best is None or score > best[0]:
                    best = (score, phrase, places)
        if best is None:
            return text, (), hinted
        return best[1], best[2], hinted

    def _settle(
        self,
        name: str,
        candidates: Sequence[Place],
        countries: frozenset[str],
        nearby: Sequence[Location],
    ) -> Settled:
        """One place for an ambiguous name, why, and whether the choice is clear.

        In the journey's countries if any candidate is; then nearest to another stop; then
        the place whose own name it is; then the most populous. The choice is clear when the
        name means one place; or when it is the most likely match by name and size (or the
        journey chose a place whose own name it is) and lies within FAR_KM of the other stops,
        or, further away, no other place of that name comes within a tenth of its size.
        """

        def likelihood(p: Place) -> tuple[bool, bool, int]:
            return (not p.curated, not self._gazetteer.is_own_name(p, name), -p.population)

        likely = min(candidates, key=likelihood)
        stops: list[tuple[float, float]] = [
            (n.lat, n.lon) for n in nearby if n.lat is not None and n.lon is not None
        ]

        def to_stops(p: Place) -> float:
            return min(distance_km(p.lat, p.lon, lat, lon) for lat, lon in stops)

        if len(candidates) == 1:
            chosen, reason = candidates[0], ""
        else:
            pool = [p for p in candidates if p.country_code in countries] or list(candidates)
            if len(pool) > 1 and stops:
                chosen = min(pool, key=to_stops)
                reason = f"{to_stops(chosen):.0f} km from the nearest other stop"
            else:
                chosen = min(pool, key=likelihood)
                reason = (
                    "the only one in the journey's countries"
                    if len(pool) == 1
                    else "the most likely by name and size"
                )
        own = chosen.curated or self._gazetteer.is_own_name(chosen, name)
        far = bool(stops) and to_stops(chosen) > FAR_KM
        rivals = [p for p in candidates if p is not chosen and self._gazetteer.is_own_name(p, name)]
        dominant = all(p.population * 10 <= chosen.population for p in rivals)
        if len(candidates) == 1:
            clear = True  # one place of that name: nothing to confuse it with
        elif chosen is not likely:
            clear = own and not far
        else:
            clear = not far or dominant
        why = ""
        if len(candidates) > 1:
            others = ", ".join(
                f"{p.name} ({p.country_code})" for p in candidates[:6] if p is not chosen
            )
            size = f"population {chosen.population:,}" if chosen.population else "size unknown"
            distance = (
                f", {to_stops(chosen):.0f} km from the journey's other stops" if stops else ""
            )
            why = (
                f'"{name}" could also be {others}; chose {self._gazetteer.label(chosen)}: '
                f"{reason} ({size}{distance})"
            )
        ordered = [chosen, *(p for p in candidates if p is not chosen)]
        if not clear:
            # What the editor chooses between: the likely place, the journey's choice, and other
            # places whose own name it is and that are not tiny beside the likely one.
            ordered = [likely, chosen] + [
                p
                for p in candidates
                if p not in (likely, chosen)
                and self._gazetteer.is_own_name(p, name)
                and p.population * 10 >= likely.population
            ]
        labels = tuple(dict.fromkeys(self._gazetteer.label(p) for p in ordered[:6]))
        return Settled(place=chosen, likely=likely, why=why, clear=clear, labels=labels)

    def _check_not_swapped(
        self, report: FieldReport, lat: float, lon: float, countries: frozenset[str]
    ) -> None:
        """ReportError when the point lies off the journey's countries and, swapped, inside them.

        With no journey known, a point far from any village whose swap lands in a town only
        earns a warning: a boat at sea is far from villages too.
        """
        if abs(lon) > 90:
            return
        if not countries:
            self._warn_if_swapped(report, lat, lon)
            return
        here = self._gazetteer.country_at(lat, lon)
        if here in countries:
            return
        there = self._gazetteer.country_at(lon, lat)
        if there not in countries:
            return
        where = self._gazetteer.country_name(here) if here else "open sea or wilderness"
        # Countries only: a failure's reason travels on (the reporter's status, the desk's
        # webhooks), and swapped back these numbers are the exact place of a sensitive report.
        raise ReportError(
            f"lat and lon in the notes lie in {where}, off this journey "
            f"({', '.join(sorted(countries))}), but swapped they lie in "
            f"{self._gazetteer.country_name(there)}: are lat and lon the wrong way round? "
            "Fix them in the front matter.",
            path=report.notes_path or report.audio_path,
        )

    def _warn_if_swapped(self, report: FieldReport, lat: float, lon: float) -> None:
        if self._gazetteer.country_at(lat, lon):
            return
        town = self._gazetteer.nearest(lon, lat, min_population=1000, max_km=10.0)
        if town is not None:
            log.warning(
                "%s: lat = %s, lon = %s lies far from any village, but swapped it lies near %s; "
                "are lat and lon the wrong way round?",
                (report.notes_path or report.audio_path).name, lat, lon,
                self._gazetteer.label(town[0]),
            )  # fmt: skip

    def _tracks_of(self, report: FieldReport) -> Callable[[Track], bool] | None:
        """The tracks named after the report's journey or reporter, if any track is; else all.

        Two reporters on two journeys log tracks at the same hours; a track's name (or its
        file's name) that holds the journey's or the reporter's name keeps them apart.
        """
        keys = [k for k in (fold(report.notes.journey), fold(report.notes.reporter)) if k]

        def named(track: Track) -> bool:
            names = (fold(track.name), fold(track.source.stem))
            return any(key in name for key in keys for name in names)

        if keys and any(named(t) for t in self._tracks.tracks):
            return named
        return None

    def recording_time(self, report: FieldReport) -> dt.datetime | None:
        """When `report` was recorded: its notes, else its own creation-time tag (aware)."""
        if report.notes.recorded_at is not None:
            return as_aware(report.notes.recorded_at, self._timezone)
        return recording_time(report, self._timezone, tags=self._file_tags(report))

    def _file_tags(self, report: FieldReport) -> dict[str, str]:
        if report.audio_path not in self._tags:
            self._tags[report.audio_path] = read_tags(report.audio_path)
        return self._tags[report.audio_path]

    def _country_at(self, lat: float, lon: float, place: Place | None) -> str:
        return place.country_code if place is not None else self._gazetteer.country_at(lat, lon)

    def _countries_along(self, tracks: Sequence[Track]) -> frozenset[str]:
        codes: set[str] = set()
        for track in tracks:
            step = max(1, len(track.points) // _TRACK_SAMPLES)
            for point in track.points[::step]:
                code = self._gazetteer.country_at(point.lat, point.lon)
                if code:
                    codes.add(code)
        return frozenset(codes)

    def _known_country(self, code: str) -> bool:
        return self._gazetteer.country_code(code) == code
