"""The notifier's outbox: a webhook not yet delivered when the station stops survives in the
catalog and goes out after the restart, signed anew; one delivered or given up is gone. The
station's own webhooks and WebSub pings are in test_station_flow.py."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from episodes.station.notify import Notifier, new_event, verify_signature
from fieldreports.catalog import Catalog, open_catalog
from tests.support.episodes import show_config
from tests.support.station import Receiver

SECRET = b"a webhook secret of some length"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver(fail_first=1)
    yield made
    made.close()


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    with open_catalog(tmp_path / ".fieldreports", show_config(tmp_path).catalog) as made:
        yield made


def notifier(tmp_path: Path, catalog: Catalog, webhooks: tuple[str, ...]) -> Notifier:
    # The first retry an hour away: only a restart can send the event again within the test.
    notify = {"webhooks": list(webhooks), "first_retry_s": 3600.0, "max_attempts": 3}
    config = show_config(tmp_path / "show", notify=notify)
    return Notifier(config.notify, secret=SECRET, outbox=catalog)


def wait_for(predicate: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_an_undelivered_webhook_goes_out_after_a_restart(
    tmp_path: Path, catalog: Catalog, receiver: Receiver
) -> None:
    first = notifier(tmp_path, catalog, (receiver.url,))
    first.start()
    first.event(new_event("episode.published", guid="g-1", title="At the fence"))
    wait_for(lambda: receiver.answered == [500])  # the receiver is down: retry in an hour
    (waiting,) = catalog.notifications()
    assert waiting.attempt == 1 and waiting.due > time.time() + 3000
    first.close()
    assert catalog.notifications() == (waiting,)  # kept for the next start

    again = notifier(tmp_path, catalog, (receiver.url,))
    again.start()
    wait_for(lambda: receiver.answered == [500, 204])
    again.close()
    (_, headers, body), (_, headers2, body2) = receiver.requests
    sent, resent = json.loads(body), json.loads(body2)
    assert resent["delivery"] == sent["delivery"]  # the same event: receivers drop a repeat
    assert (resent["event"], resent["guid"], resent["attempt"]) == ("episode.published", "g-1", 2)
    assert verify_signature(body2, headers2, SECRET)
    assert catalog.notifications() == ()  # delivered: gone from the outbox


def test_a_webhook_taken_out_of_the_settings_is_not_called_after_a_restart(
    tmp_path: Path, catalog: Catalog, receiver: Receiver
) -> None:
    first = notifier(tmp_path, catalog, (receiver.url,))
    first.start()
    first.event(new_event("report.failed", report="r"))
    wait_for(lambda: len(receiver.requests) == 1)
    first.close()
    assert len(catalog.notifications()) == 1
    again = notifier(tmp_path, catalog, ())
    again.start()
    again.close()
    assert catalog.notifications() == ()
    assert len(receiver.requests) == 1


def test_a_receiver_speaking_garbage_does_not_stop_the_others(tmp_path: Path) -> None:
    """A misconfigured proxy answering something that is not HTTP is a failed attempt, never
    the end of the notifier's thread (which would silence every receiver until a restart)."""
    garbage = socket.create_server(("127.0.0.1", 0))

    def answer_garbage() -> None:
        while True:
            try:
                connection, _ = garbage.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"HELLO I AM NOT HTTP\r\n\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    good = Receiver()
    try:
        bad_url = f"http://127.0.0.1:{garbage.getsockname()[1]}/hook"
        config = show_config(tmp_path, notify={"webhooks": [bad_url, good.url],
                                               "first_retry_s": 0.2})  # fmt: skip
        notifier = Notifier(config.notify, secret=SECRET)
        notifier.start()
        for title in ("one", "two"):
            notifier.event(new_event("episode.published", episode={"title": title}))
            wait_for(lambda t=title: t in [e["episode"]["title"] for e in good.events()])
        assert notifier.alive
        notifier.close()
    finally:
        garbage.close()
        good.close()
