"""Builders the tests share: recordings (`audio`), episodes and shows (`episodes`), the map in
Chromium (`mapkit`). Fixtures that wrap them live in tests/conftest.py."""

import os
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def unavailable(message: str) -> NoReturn:
    """A tool a test needs is missing: skipped on a developer's machine, failed in CI (CI set),
    where `make test` installs everything and a skip would hide a broken install."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
