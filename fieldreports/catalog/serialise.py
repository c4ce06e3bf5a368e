"""Stage results to JSON and back, so the catalog can cache any frozen dataclass.

Driven by the dataclasses' own type hints: a new field needs no serialisation code. The same
walk gives cache keys: `key_data` leaves out the fields marked `metadata=NOT_IN_KEY` (where a file
sits, how many threads ran), because they change how a result was made, not what it is.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import types
import typing
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Field metadata for what does not change a stage's result: `field(metadata=NOT_IN_KEY)`.
NOT_IN_KEY = types.MappingProxyType({"cache_key": False})


def dumps(obj: Any) -> str:
    """Any stage result as compact JSON.

    >>> from fieldreports.intake.notes import Notes
    >>> dumps(Notes(title="Harbour", tags=("sea",)))[:40]
    '{"title":"Harbour","body":"","journey":"'
    """
    return json.dumps(_encode(obj), separators=(",", ":"), ensure_ascii=False, sort_keys=False)


def loads(cls: type[T], text: str) -> T:
    """Rebuild a `cls` from `dumps` output.

    >>> from fieldreports.intake.notes import Notes
    >>> loads(Notes, dumps(Notes(title="Harbour", tags=("sea",), lat=35.5, lon=12.6))).tags
    ('sea',)
    """
    return typing.cast(T, _decode(cls, json.loads(text)))


def key_data(obj: Any) -> Any:
    """`obj` as JSON-ready data without its NOT_IN_KEY fields, for hashing into a cache key.

    >>> from fieldreports.config import TranscriptionSettings
    >>> "cpu_threads" in key_data(TranscriptionSettings())
    False
    """
    return _encode(obj, for_key=True)


def from_data(cls: type[T], data: Any) -> T:
    """Rebuild a `cls` from data `dumps` made and `json.loads` read back (a catalog column)."""
    return typing.cast(T, _decode(cls, data))


def paths_in(obj: Any) -> tuple[Path, ...]:
    """Every `Path` held anywhere in a job or result, in field order: what a worker on another
    machine must be able to reach (inputs) or hand back (outputs).

    >>> from fieldreports.audio import MasterJob
    >>> from fieldreports.config import AudioSettings
    >>> paths_in(MasterJob(source=Path("in/a.wav"), source_sha256="ab", settings=AudioSettings()))
    (PosixPath('in/a.wav'),)
    """
    if isinstance(obj, Path):
        return (obj,)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return tuple(p for f in dataclasses.fields(obj) for p in paths_in(getattr(obj, f.name)))
    if isinstance(obj, tuple | list):
        return tuple(p for item in obj for p in paths_in(item))
    if isinstance(obj, dict):
        return tuple(p for item in obj.values() for p in paths_in(item))
    return ()


def map_paths(obj: T, move: Callable[[Path], Path]) -> T:
    """`obj` with every `Path` in it replaced by `move(path)`: a job's recording as a worker
    downloaded it, a result's files where the run will find them.

    >>> from fieldreports.audio import MasterJob
    >>> from fieldreports.config import AudioSettings
    >>> job = MasterJob(source=Path("in/a.wav"), source_sha256="ab", settings=AudioSettings())
    >>> map_paths(job, lambda p: Path("/cache") / p.name).source
    PosixPath('/cache/a.wav')
    """
    return typing.cast(T, _map(obj, move))


def _map(obj: Any, move: Callable[[Path], Path]) -> Any:
    if isinstance(obj, Path):
        return move(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {
            f.name: _map(getattr(obj, f.name), move) for f in dataclasses.fields(obj) if f.init
        }
        return dataclasses.replace(obj, **changes)
    if isinstance(obj, tuple):
        return tuple(_map(item, move) for item in obj)
    if isinstance(obj, list):
        return [_map(item, move) for item in obj]
    if isinstance(obj, dict):
        return {k: _map(v, move) for k, v in obj.items()}
    return obj


def _encode(obj: Any, *, for_key: bool = False) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: _encode(getattr(obj, f.name), for_key=for_key)
            for f in dataclasses.fields(obj)
            if not (for_key and f.metadata.get("cache_key") is False)
        }
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    if isinstance(obj, tuple | list):
        return [_encode(item, for_key=for_key) for item in obj]
    if isinstance(obj, dict):
        return {str(k): _encode(v, for_key=for_key) for k, v in obj.items()}
    return obj


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        args = typing.get_args(tp)
        item = args[0] if args else Any
        return tuple(_decode(item, v) for v in value)
    if origin is dict:
        _, item = typing.get_args(tp)
        return {k: _decode(item, v) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        names = {f.name for f in dataclasses.fields(tp) if f.init}
        return tp(**{k: _decode(hints[k], v) for k, v in value.items() if k in names})
    if tp is Path:
        return Path(value)
    if tp is bytes:
        return base64.b64decode(value)
    if tp is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if tp is float and isinstance(value, int):
        return float(value)
    return value
