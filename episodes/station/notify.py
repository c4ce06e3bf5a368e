"""Telling others: signed webhooks for each published or failed report, and WebSub pings.

A webhook gets a JSON POST. Its body carries the event, a delivery id and the time it was sent;
two headers let the receiver trust it:

    X-Fieldreports-Timestamp: 1718000000
    X-Fieldreports-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>

The timestamp is also in the signed body, so a receiver that checks the signature, that the
header matches the body and that the time is recent (say, five minutes) cannot be fooled by a
replayed old message; the delivery id lets it drop a retry it has already handled. See
`verify_signature` and docs/station.md for a receiver.

A WebSub hub (`[show] websub_hub`) gets `hub.mode=publish` and `hub.url=<feed>` for each feed
that changed (WebSub 1.0 leaves this ping to the hub; Google's and Superfeedr's hubs take it), so
podcast apps subscribed there fetch the feed at once instead of at their next poll.

Everything goes out from one background thread and is retried with exponential backoff
(`[notify] first_retry_s`, doubled each time, at most an hour apart, `max_attempts` in all): a
slow or failing receiver never holds up publishing. Each delivery waits in the catalog's outbox
until it is delivered or given up, so one not yet delivered when the station stops, or dies, is
sent at once after the restart (to the receivers show.toml still names).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fieldreports.catalog import Catalog, Notification
from fieldreports.config import NotifySettings, ShowConfig
from fieldreports.errors import FieldReportsError, SetupError

log = logging.getLogger(__name__)

SECRET_ENV = "FIELDREPORTS_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Fieldreports-Signature"
TIMESTAMP_HEADER = "X-Fieldreports-Timestamp"
EVENT_HEADER = "X-Fieldreports-Event"
MAX_DELAY_S = 3600.0
USER_AGENT = "fieldreports-station"


def load_webhook_secret(config: ShowConfig) -> bytes | None:
    """The webhooks' secret: `[notify] secret_file`, else FIELDREPORTS_WEBHOOK_SECRET; None
    when no webhook is set. SetupError, naming both, when webhooks are set without one."""
    if not config.notify.webhooks:
        return None
    if config.notify.secret_file:
        path = config.show_dir / config.notify.secret_file
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise SetupError(
                f"[notify] secret_file: cannot read {path} ({exc.strerror}); make the file, "
                "readable by the station only, holding one long random line."
            ) from exc
    else:
        secret = os.environ.get(SECRET_ENV, "").strip().encode("utf-8")
    if len(secret) < 16:
        raise SetupError(
            "[notify] webhooks need a secret of at least 16 characters to sign with: set "
            f"{SECRET_ENV}, or [notify] secret_file to a file holding it (never the secret "
            "itself in show.toml). `python3 -c 'import secrets; print(secrets.token_hex(32))'` "
            "makes one."
        )
    return secret


def sign(body: bytes, secret: bytes) -> str:
    """The signature header's value for `body`.

    >>> sign(b'{"event":"episode.published"}', b"0123456789abcdef")[:7]
    'sha256='
    """
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    secret: bytes,
    *,
    max_age_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver checks (shown here, tested, and copied into docs/station.md).

    >>> body = json.dumps({"event": "x", "timestamp": 1718000000}).encode()
    >>> good = {SIGNATURE_HEADER: sign(body, b"k" * 16), TIMESTAMP_HEADER: "1718000000"}
    >>> verify_signature(body, good, b"k" * 16, now=1718000010)
    True
    >>> verify_signature(body, good, b"k" * 16, now=1718000900)  # too old: a replay
    False
    >>> verify_signature(body + b" ", good, b"k" * 16, now=1718000010)
    False
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not hmac.compare_digest(given, sign(body, secret)):
        return False
    try:
        stamp = int(lowered.get(TIMESTAMP_HEADER.lower(), ""))
        inside = int(json.loads(body)["timestamp"])
    except (ValueError, KeyError, TypeError):
        return False
    moment = time.time() if now is None else now
    return stamp == inside and abs(moment - stamp) <= max_age_s


@dataclass(order=True)
class _Delivery:
    due: float
    order: int
    url: str = field(compare=False)
    kind: str = field(compare=False)  # "webhook" or "websub"
    payload: dict[str, Any] = field(compare=False)
    attempt: int = field(default=0, compare=False)
    id: str = field(default_factory=lambda: str(uuid.uuid4()), compare=False)

    def stored(self) -> Notification:
        return Notification(id=self.id, kind=self.kind, url=self.url, payload=self.payload,
                            attempt=self.attempt, due=self.due)  # fmt: skip


class Notifier:
    """Delivers events in a background thread; `start()` it, `close()` it at the end."""

    def __init__(
        self,
        settings: NotifySettings,
        *,
        secret: bytes | None,
        hub: str = "",
        outbox: Catalog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.secret = secret
        self.hub = hub
        self.outbox = outbox  # None: deliveries wait in memory only (tests of the rules)
        self._clock = clock
        self._queue: list[_Delivery] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="station-notify", daemon=True)
        self.delivered = 0  # counters, for tests and the log
        self.dropped = 0

    @property
    def enabled(self) -> bool:
        return bool(self.settings.webhooks or self.hub)

    @property
    def alive(self) -> bool:
        """Whether deliveries go out: the thread runs, or there is nothing to deliver to."""
        return self._thread.is_alive() or not self.enabled or self._closed

    def start(self) -> None:
        self._reload()
        if self.enabled:
            self._thread.start()

    def _reload(self) -> None:
        """Deliveries an earlier station left in the outbox: due at once, if their receiver is
        still configured (a webhook taken out of show.toml is not called again)."""
        if self.outbox is None:
            return
        now = self._clock()
        for stored in self.outbox.notifications():
            wanted = stored.url in self.settings.webhooks if stored.kind == "webhook" else (
                stored.url == self.hub)  # fmt: skip
            if not wanted:
                log.info("%s %s: no longer configured; not sent", stored.kind, stored.url)
                self._forget(stored.id)
                continue
            delivery = _Delivery(min(stored.due, now), next(self._order), stored.url, stored.kind,
                                 dict(stored.payload), stored.attempt, stored.id)  # fmt: skip
            with self._cond:
                heapq.heappush(self._queue, delivery)
        if self._queue:
            log.info("%d notification(s) from before the restart go out now", len(self._queue))

    def close(self, timeout_s: float = 5.0) -> None:
        with self._cond:
            self._closed = True
            left = len(self._queue)
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if left and self.outbox is not None:
            log.info("%d notification(s) not yet delivered wait for the next start", left)
        elif left:
            log.warning("the station stopped with %d notification(s) not delivered", left)

    def event(self, payload: Mapping[str, Any]) -> None:
        """Send `payload` (event and its facts) to every webhook."""
        for url in self.settings.webhooks:
            self._put(_Delivery(self._clock(), next(self._order), url, "webhook", dict(payload)))

    def feeds_changed(self, feed_urls: list[str]) -> None:
        """Ping the WebSub hub for each feed that was just published anew."""
        if self.hub:
            for feed in feed_urls:
                self._put(
                    _Delivery(self._clock(), next(self._order), self.hub, "websub", {"url": feed})
                )

    def _put(self, delivery: _Delivery) -> None:
        self._keep(delivery)
        with self._cond:
            heapq.heappush(self._queue, delivery)
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._queue or self._queue[0].due > self._clock()):
                    wait = self._queue[0].due - self._clock() if self._queue else None
                    self._cond.wait(wait)
                if self._closed:
                    return
                delivery = heapq.heappop(self._queue)
            self._attempt(delivery)

    def _attempt(self, delivery: _Delivery) -> None:
        delivery.attempt += 1
        try:
            status = self._send(delivery)
        except Exception as exc:  # noqa: BLE001 - a receiver speaking garbage is a failed attempt
            # (OSError, URLError, http.client's BadStatusLine...): never the thread's end.
            problem = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        else:
            if 200 <= status < 300:
                self.delivered += 1
                self._forget(delivery.id)
                log.info("%s %s: delivered (%d)", delivery.kind, delivery.url, status)
                return
            problem = f"HTTP {status}"
        if delivery.attempt >= self.settings.max_attempts:
            self.dropped += 1
            self._forget(delivery.id)
            log.error(
                "%s %s: gave up after %d attempts (%s); the event was %s",
                delivery.kind,
                delivery.url,
                delivery.attempt,
                problem,
                delivery.payload.get("event", "a feed ping"),
            )
            return
        delay = min(self.settings.first_retry_s * 2 ** (delivery.attempt - 1), MAX_DELAY_S)
        log.warning(
            "%s %s: attempt %d failed (%s); next in %.0f s",
            delivery.kind,
            delivery.url,
            delivery.attempt,
            problem,
            delay,
        )
        delivery.due = self._clock() + delay
        self._put(delivery)

    # The outbox may be away for a moment (PostgreSQL restarting): the delivery still goes out
    # from memory, it only would not survive a restart in that moment.

    def _keep(self, delivery: _Delivery) -> None:
        if self.outbox is not None:
            try:
                self.outbox.keep_notification(delivery.stored())
            except FieldReportsError as exc:
                log.warning("could not keep a notification in the catalog: %s", exc)

    def _forget(self, notification_id: str) -> None:
        if self.outbox is not None:
            try:
                self.outbox.forget_notification(notification_id)
            except FieldReportsError as exc:
                log.warning("could not clear a notification from the catalog: %s", exc)

    def _send(self, delivery: _Delivery) -> int:
        headers = {"User-Agent": USER_AGENT}
        if delivery.kind == "websub":
            body = urllib.parse.urlencode(
                {"hub.mode": "publish", "hub.url": delivery.payload["url"]}
            ).encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            stamp = int(self._clock())
            # Signed anew at each attempt: the timestamp in the body is the time of sending.
            body = json.dumps(
                {**delivery.payload, "timestamp": stamp, "attempt": delivery.attempt},
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode("utf-8")
            headers |= {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: str(stamp),
                EVENT_HEADER: str(delivery.payload.get("event", "")),
            }
            if self.secret is not None:
                headers[SIGNATURE_HEADER] = sign(body, self.secret)
        request = urllib.request.Request(delivery.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return int(exc.code)


def new_event(event: str, **facts: Any) -> dict[str, Any]:
    """An event's payload before sending: its name, a delivery id for receivers to drop repeats."""
    return {"event": event, "delivery": str(uuid.uuid4()), **facts}
