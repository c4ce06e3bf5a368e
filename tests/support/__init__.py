"""Builders the tests share: recordings (`audio`), episodes and shows (`episodes`), the map in
Chromium (`mapkit`). Fixtures that wrap them live in tests/conftest.py."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
