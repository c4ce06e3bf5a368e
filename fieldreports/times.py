"""Times and durations: a naive time from the field is read in the show's time zone; a duration is
shown the way a recorder's display shows it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fieldreports.errors import SetupError


def zone(name: str) -> dt.tzinfo:
    """The tzinfo for an IANA name such as "Europe/Warsaw"; SetupError when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SetupError(
            f'unknown time zone "{name}" in [show] timezone; use an IANA name like "Europe/Warsaw".'
        ) from None


def as_aware(value: dt.datetime, timezone: str) -> dt.datetime:
    """`value` unchanged when it carries an offset, else read in `timezone`.

    >>> as_aware(dt.datetime(2022, 3, 14, 9, 40), "Europe/Rome").isoformat()
    '2022-03-14T09:40:00+01:00'
    >>> as_aware(dt.datetime(2022, 3, 14, 9, 40, tzinfo=dt.timezone.utc), "Europe/Rome").isoformat()
    '2022-03-14T09:40:00+00:00'
    """
    return value if value.tzinfo is not None else value.replace(tzinfo=zone(timezone))


def format_duration(seconds: float) -> str:
    """A duration as m:ss, or h:mm:ss from an hour on, rounded to the nearest second.

    >>> format_duration(3.4), format_duration(75.4), format_duration(754), format_duration(3725.4)
    ('0:03', '1:15', '12:34', '1:02:05')
    """
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
