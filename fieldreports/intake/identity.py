"""Who sent an upload: the identity a credential stands for, and the ways to check one.

The upload server asks an `Authenticate` function, given the bearer credential of a request, who
it is; `None` means nobody (401). Today `receive --token` shares one secret among all reporters;
per-reporter keys plug in here later without the server changing.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """A sender: `name` is recorded beside every file it sends; editors may act on any upload."""

    name: str
    is_editor: bool = False


Authenticate = Callable[[str], "Identity | None"]


def bearer(headers: Mapping[str, str]) -> str:
    """The credential of a request's `Authorization: Bearer <key>` header, or "".

    >>> bearer({"authorization": "Bearer  abc "}), bearer({"authorization": "Basic abc"})
    ('abc', '')
    """
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""


ANONYMOUS = Identity(name="anonymous")
NEWSROOM = Identity(name="newsroom")  # whoever holds the one shared token


def shared_token(token: str, *, identity: Identity = NEWSROOM) -> Authenticate:
    """Accept exactly `token` (compared in constant time, so timing reveals nothing of it).

    >>> check = shared_token("s3cret")
    >>> check("s3cret").name, check("guess"), check("")
    ('newsroom', None, None)
    """
    expected = token.encode("utf-8")

    def authenticate(credential: str) -> Identity | None:
        ok = hmac.compare_digest(credential.encode("utf-8"), expected)
        return identity if ok and expected else None

    return authenticate


def anyone(_credential: str) -> Identity | None:
    """No credential needed (a server only this machine can reach): everyone is anonymous."""
    return ANONYMOUS
