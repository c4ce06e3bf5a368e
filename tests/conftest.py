from __future__ import annotations

import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def jfk() -> Path:
    """11 s of J. F. Kennedy's inaugural address (public domain, from openai/whisper's tests)."""
    return DATA / "jfk.flac"
