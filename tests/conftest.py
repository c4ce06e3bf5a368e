from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import DATA


@pytest.fixture(scope="session")
def jfk() -> Path:
    """11 s of J. F. Kennedy's inaugural address (public domain, from openai/whisper's tests)."""
    return DATA / "jfk.flac"


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    """One headless Chromium for every browser test of the run."""
    from tests.support import mapkit

    with mapkit.chromium() as launched:
        yield launched
