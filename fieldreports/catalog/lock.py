"""One run per show at a time: two would interleave their publishing and their catalog."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fieldreports.errors import RunLocked


@contextmanager
def run_lock(state_dir: Path) -> Iterator[None]:
    """Hold the show's run lock for the block; RunLocked (a SetupError) at once when another run
    holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "run.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(
                f"another fieldreports run is working on {state_dir.parent}; "
                "wait for it to finish, then run again."
            ) from None
        yield
