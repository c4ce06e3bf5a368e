"""One tree of errors, so the command line can tell "this report failed" from "stop now"."""

from __future__ import annotations

from pathlib import Path


class FieldReportsError(Exception):
    """Base of every error fieldreports raises on purpose."""


class SetupError(FieldReportsError):
    """The run cannot go on: a bad show.toml, a missing program, no model weights."""


class ReportError(FieldReportsError):
    """One report failed a stage; it is recorded and set aside while the batch goes on."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path

    @property
    def message(self) -> str:
        """The reason alone, for places that name the file themselves."""
        return super().__str__()

    def __str__(self) -> str:
        return f"{self.path.name}: {self.message}" if self.path else self.message


class RunLocked(SetupError):
    """Another run holds the show's run lock: wait for it and try again (the station does)."""


class CatalogUnavailable(SetupError):
    """The catalog's database cannot be reached right now (down, restarting, locked too long).

    Transient: the same call may succeed later, so a worker can retry on this class alone.
    """


class CatalogError(FieldReportsError):
    """A request the catalog cannot honour as asked: a reporter name already taken, an unknown one."""


class StageTimeout(ReportError):
    """A stage ran past its time limit on a worker: the report fails this run, but the
    recording is not set aside (it is long, or the worker slow, not broken)."""


class WorkStorageUnavailable(SetupError):
    """The work storage (the shared disk or the private S3 prefix) cannot be reached right now.

    Transient like CatalogUnavailable: a worker retries on it with backoff.
    """
