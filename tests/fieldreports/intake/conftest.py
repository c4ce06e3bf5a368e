from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from fieldreports.config import UploadSettings
from fieldreports.intake.identity import shared_token
from fieldreports.intake.tus import receiving_app
from tests.support.uploads import TOKEN, RunningServer, running

StartServer = Callable[..., RunningServer]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start a `receive` server (on a free port, in a thread) with the given [uploads] settings."""
    with ExitStack() as stack:

        def start(*, on_complete: Any = None, authenticate: Any = None, **settings: Any):
            inbox = tmp_path / "inbox"
            inbox.mkdir(exist_ok=True)
            upload_settings = UploadSettings(**{"read_timeout_s": 5.0, **settings})
            app = receiving_app(
                inbox,
                authenticate=authenticate or shared_token(TOKEN),
                settings=upload_settings,
                on_complete=on_complete,
            )
            return stack.enter_context(running(app, inbox=inbox, settings=upload_settings))

        yield start


@pytest.fixture
def server(start_server: StartServer) -> RunningServer:
    return start_server()
