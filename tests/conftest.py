from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import DATA
from tests.support.postgres import PostgresServer, running_postgres
from tests.support.redis import RedisServer, running_redis

# The recordings the tests make are the same on every run: sox draws its noise and dither from
# the clock unless told to repeat itself (-R), and a test would pass or fail on the noise it drew.
os.environ["SOX_OPTS"] = "-R"


@pytest.fixture(scope="session")
def jfk() -> Path:
    """11 s of J. F. Kennedy's inaugural address (public domain, from openai/whisper's tests)."""
    return DATA / "jfk.flac"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL 15 server for the session (tests.support.postgres); each test makes its own
    database with `postgres.create_database()`. Skipped locally when not installed; under CI,
    a failure."""
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    """One headless Chromium for every browser test of the run."""
    from tests.support import mapkit

    with mapkit.chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    """One Redis for the session (tests.support.redis); each test takes a database number of
    its own, or a queue of its own (shows with different base URLs). Skipped locally when
    redis-server is not installed; under CI, a failure."""
    with running_redis() as server:
        yield server
