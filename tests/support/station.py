"""A station on a free port of this machine, in a thread, for the length of a test.

The port is taken first, so the show's base_url can name it: the links the station hands out
(episodes, pages, map stops) then lead back to it, as they would behind a newsroom's proxy.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from episodes.site.storage import feed_url
from episodes.station.app import Station
from fieldreports.catalog import open_catalog
from fieldreports.config import ShowConfig, load_config
from fieldreports.intake.serving import listen
from tests.support.uploads import serving


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningStation:
    url: str  # the station's root, ending in "/"
    config: ShowConfig
    station: Station

    @property
    def files_url(self) -> str:
        return self.url + "files/"

    @property
    def inbox(self) -> Path:
        return self.config.inbox_dir

    def api(self, path: str, key: str) -> tuple[int, Any]:
        """GET /api/<path> with a reporter key: (status, JSON)."""
        request = urllib.request.Request(
            f"{self.url}api/{path}", headers={"Authorization": f"Bearer {key}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read() or b"null")

    def state(self, report_id: str, key: str) -> dict[str, Any]:
        status, body = self.api(f"reports/{report_id}", key)
        assert status == 200, (status, body)
        return dict(body)

    def wait_for_state(
        self, report_id: str, key: str, states: tuple[str, ...], *, timeout_s: float = 120
    ) -> dict[str, Any]:
        """Poll the API, as the page does, until the report reaches one of `states`."""
        deadline = time.monotonic() + timeout_s
        seen: list[str] = []
        while True:
            status, body = self.api(f"reports/{report_id}", key)
            if status == 200:
                if not seen or seen[-1] != body["state"]:
                    seen.append(body["state"])
                if body["state"] in states:
                    return dict(body)
            if time.monotonic() > deadline:
                raise AssertionError(f"{report_id} never reached {states}; went {seen}, {body}")
            time.sleep(0.2)


def write_show(show_dir: Path, port: int, extra_toml: str = "") -> None:
    """A show folder whose base_url is the station on `port`: fast settings for tests."""
    show_dir.mkdir(parents=True, exist_ok=True)
    (show_dir / "inbox").mkdir(exist_ok=True)
    (show_dir / "show.toml").write_text(
        f'[show]\ntitle = "Station Test"\nbase_url = "http://127.0.0.1:{port}/"\n'
        'owner_email = "desk@example.org"\n'
        '[transcription]\nmodel = "tiny.en"\n[map]\ntiles = "none"\n' + extra_toml,
        encoding="utf-8",
    )


def add_reporters(show_dir: Path, *names: str, editors: tuple[str, ...] = ()) -> dict[str, str]:
    """Reporters' keys by name, made through the catalog as `reporters add` makes them."""
    config = load_config(show_dir)
    with open_catalog(config.state_dir, config.catalog) as catalog:
        return {n: catalog.add_reporter(n, editor=n in editors) for n in (*names, *editors)}


@contextmanager
def running_station(
    show_dir: Path,
    *,
    run: Callable[..., Any],
    extra_toml: str = "",
    port: int | None = None,
) -> Iterator[RunningStation]:
    """Write show.toml for a free port (unless it exists), start the station, yield it."""
    sock = listen("127.0.0.1", port or 0)
    port = sock.getsockname()[1]
    if not (show_dir / "show.toml").exists():
        write_show(show_dir, port, extra_toml)
    config = load_config(show_dir)
    station = Station(config, run=run)
    station.start()
    try:
        with serving(station.app, sock, settings=config.uploads):
            yield RunningStation(url=f"http://127.0.0.1:{port}/", config=config, station=station)
    finally:
        station.close()


@dataclass(frozen=True, slots=True)
class NoEpisodes:
    """What a run that publishes nothing returns (the shape of pipeline.RunSummary)."""

    episodes: Mapping[str, Any]
    failures: tuple[Any, ...] = ()
    published: Any = None
    kept: tuple[str, ...] = ()


class ScriptedRun:
    """A run function that returns what the test sets (`episodes`, `failures`) and records
    their outcomes in the catalog as `run_show` does: for the processor's rules."""

    def __init__(self) -> None:
        self.episodes: dict[str, Any] = {}
        self.kept: set[str] = set()  # episodes from before, left up while their report fails
        self.failures: list[Any] = []
        self.calls: list[frozenset[str]] = []

    def __call__(self, config: ShowConfig, *, on_progress: Any = None, hold: Any = ()) -> Any:
        self.calls.append(frozenset(hold))
        with open_catalog(config.state_dir, config.catalog) as catalog:
            for report_id in {*self.episodes, *(f.report_id for f in self.failures)}:
                catalog.guid_for(report_id, feed_url=feed_url(config))
            for failure in self.failures:
                status = "quarantined" if failure.set_aside else "failed"
                catalog.record(failure.report_id, status=status, stage=failure.stage,
                               reason=failure.reason)  # fmt: skip
            for report_id in set(self.episodes) - self.kept:
                catalog.record(report_id, status="published", summary={})
        return NoEpisodes(episodes=dict(self.episodes), failures=tuple(self.failures),
                          kept=tuple(self.kept))  # fmt: skip


class Told:
    """A notifier that keeps what it is told, for the processor's rules."""

    enabled = True
    alive = True

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def event(self, payload: Mapping[str, Any]) -> None:
        self.events.append(dict(payload))

    def feeds_changed(self, feed_urls: list[str]) -> None:
        pass

    def names(self) -> list[str]:
        return [e["event"] for e in self.events]


class RecordingRun:
    """A run function that only notes when it was called and what it held back: for tests of
    the upload side, where the files must stay in the inbox as they landed."""

    def __init__(self) -> None:
        self.calls: list[frozenset[str]] = []

    def __call__(self, config: ShowConfig, *, on_progress: Any = None, hold: Any = ()) -> Any:
        self.calls.append(frozenset(hold))
        return NoEpisodes(episodes={})


@contextmanager
def serving_site(
    kind: str, directory: Path, *, signing_secret: bytes | None = None
) -> Iterator[str]:
    """The published folder served by `fieldreports serve` ("serve") or by the station's app
    ("station"); yields the base URL. The same tests hold for both."""
    if kind == "serve":
        from episodes.site.serve import running as serve_running

        with serve_running(directory, signing_secret=signing_secret) as base:
            yield base
        return
    from episodes.station.site import PublishedSite
    from fieldreports.config import UploadSettings
    from tests.support.uploads import running as uvicorn_running

    app = PublishedSite(directory, signing_secret=signing_secret)
    with uvicorn_running(app, inbox=directory, settings=UploadSettings()) as server:
        yield f"http://{server.host}:{server.port}/"


class Receiver:
    """A webhook receiver (or WebSub hub) that keeps what it got; it answers 500 to the first
    `fail_first` requests."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.requests: list[tuple[float, dict[str, str], bytes]] = []
        self.answered: list[int] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((time.time(), dict(self.headers), body))
                status = 500 if len(receiver.requests) <= receiver.fail_first else 204
                receiver.answered.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [
            json.loads(body)
            for _, _, body in self.requests
            if body.startswith(b"{") and (name is None or json.loads(body)["event"] == name)
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
