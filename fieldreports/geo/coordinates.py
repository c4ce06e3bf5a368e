"""Coordinates: parsing what was typed by hand, judging its precision, distances, geo: URIs."""

from __future__ import annotations

import math
import re

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius

_ANGLE = (
    r"(?P<sign{n}>[+-])?\s*(?P<deg{n}>\d{{1,3}}(?:\.\d+)?)\s*°?\s*"
    r"(?:(?P<min{n}>\d{{1,2}}(?:\.\d+)?)\s*['′’]\s*)?"
    r"(?:(?P<sec{n}>\d{{1,2}}(?:\.\d+)?)\s*(?:\"|″|''|”)\s*)?"
    r"(?P<hemi{n}>[NSEW])?"
)
_COORDINATES = re.compile(
    rf"\s*(?:geo:)?\s*{_ANGLE.format(n=1)}\s*[,;/]?\s*{_ANGLE.format(n=2)}\s*(?:;.*)?",
    re.IGNORECASE,
)


def parse_coordinates(text: str) -> tuple[float, float, float] | None:
    """Coordinates typed where a place name was expected: (lat, lon, accuracy_m), or None.

    Decimal degrees (latitude first), degrees-minutes-seconds, hemisphere letters in either
    order, and geo: URIs. Out-of-range values are returned as typed, for the caller to refuse.

    >>> parse_coordinates("52.0705, 23.6010")
    (52.0705, 23.601, 6.0)
    >>> parse_coordinates("52°04′14″N 23°36′04″E")
    (52.070556, 23.601111, 15.0)
    >>> parse_coordinates("12.6058 E, 35.5011 N")
    (35.5011, 12.6058, 6.0)
    >>> parse_coordinates("geo:35.5,-12.6;u=30")
    (35.5, -12.6, 5566.0)
    >>> parse_coordinates("Lampedusa") is None
    True
    """
    match = _COORDINATES.fullmatch(text)
    if match is None:
        return None
    values: list[tuple[float, str, float]] = []
    for n in (1, 2):
        deg, minutes, seconds = (match[f"{part}{n}"] for part in ("deg", "min", "sec"))
        value = float(deg) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
        if match[f"sign{n}"] == "-":
            value = -value
        hemi = (match[f"hemi{n}"] or "").upper()
        if hemi in ("S", "W"):
            value = -abs(value)
        if seconds:
            accuracy_m = 15.0  # a second of arc is 31 m
        elif minutes:
            accuracy_m = 926.0  # a minute of arc is 1852 m
        else:
            accuracy_m = float(max(5, round(111_320 * 10.0 ** -len(deg.partition(".")[2]) / 2)))
        values.append((round(value, 6), hemi, accuracy_m))
    (first, hemi1, acc1), (second, hemi2, acc2) = values
    if hemi1 in ("E", "W") or hemi2 in ("N", "S"):
        first, second = second, first
    return first, second, max(acc1, acc2)


def coordinate_accuracy_m(lat: float, lon: float) -> float:
    """How precise typed coordinates are, from their decimals: half a unit in the last place.

    >>> coordinate_accuracy_m(35.5011, 12.6058)
    6.0
    >>> coordinate_accuracy_m(35.5, 12.6)
    5566.0
    """
    decimals = min(_decimals(lat), _decimals(lon))
    return float(max(5, round(111_320 * 10.0**-decimals / 2)))


def _decimals(value: float) -> int:
    text = repr(float(value))
    return 0 if "e" in text else len(text.partition(".")[2].rstrip("0"))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) on a spherical Earth, in kilometres.

    >>> round(distance_km(52.0755, 23.6161, 52.1089, 23.7175))  # Terespol to Brest
    8
    >>> round(distance_km(35.5, 12.6, 34.74, 10.76))  # Lampedusa to Sfax
    187
    >>> distance_km(10.0, 20.0, 10.0, 20.0)
    0.0
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def geo_uri(lat: float, lon: float, *, accuracy_m: float | None = None, decimals: int = 4) -> str:
    """An RFC 5870 geo: URI, to `decimals` places (4 is about 11 m), with its uncertainty.

    >>> geo_uri(35.50111, 12.60583)
    'geo:35.5011,12.6058'
    >>> geo_uri(35.5011, 12.6058, accuracy_m=12.4)
    'geo:35.5011,12.6058;u=12'
    >>> geo_uri(-0.00001, 0.0)
    'geo:0.0,0.0'
    """
    uri = f"geo:{_number(lat, decimals)},{_number(lon, decimals)}"
    return uri if accuracy_m is None else f"{uri};u={round(accuracy_m)}"


def _number(value: float, decimals: int) -> str:
    rounded = round(value, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    return repr(rounded) if rounded else "0.0"
