"""Impression ids and sessions: what lets a view, click or save count only against something the server showed.

An impression id is a signed token (HMAC-SHA256 with the event secret), not a stored nonce: a search
serves tens of impressions, most never clicked, and anyone may search; storing each would make every
read a write and let a crawler fill the table. A token costs nothing until it comes back, and the one
thing that needs state, "at most one click per impression", is kept by the events themselves (a unique
index on impression id and kind, db/schema.sql).

A token names the listing and ad it was issued for, the probability the ad was chosen with (its
propensity) and when, and its signature binds them to the session that saw them, so it cannot be moved
to another item or another session, nor made up, nor carry another propensity: the propensity an
impression records is the one its token vouches for, never the client's word. A session is a random id
signed the same way, handed to the page in an HttpOnly cookie.

The secret: GFL_EVENT_SECRET, or else one generated once and kept in GFL_HOME/event_secret (mode 0600),
so the embedded default needs nothing set. It is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import struct
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

from gfl_dagster import settings
from gfl_dagster.feedback.events import Event, EventError

SESSION_COOKIE = "gfl_session"
SECRET_FILE = "event_secret"
# The kinds that must point at an impression the server served.
SERVED_KINDS = frozenset({"impression", "view", "click", "save"})
_MAC_HEX = 32  # 128 bits of signature: unguessable


class ImpressionRefused(EventError):
    """An event whose impression id does not vouch for it; the message names why."""


def _stored_secret(home: Path) -> bytes:
    path = home / SECRET_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process wrote it first: use theirs
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(32))
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise settings.SettingError(f"{path} holds no usable event secret; delete it to have a new one made")
    return secret.encode()


@dataclass(frozen=True)
class Signer:
    """Issues and checks sessions and impression ids. `secret` must stay on the server."""

    secret: bytes
    ttl_s: float = 3600.0

    @classmethod
    def from_environment(cls) -> "Signer":
        configured = settings.value(settings.GFL_EVENT_SECRET)
        secret = configured.encode() if configured else _stored_secret(settings.gfl_home())
        return cls(secret, float(settings.impression_ttl_s()))

    def _mac(self, *parts: str) -> str:
        return hmac.new(self.secret, "|".join(parts).encode(), hashlib.sha256).hexdigest()[:_MAC_HEX]

    def new_session(self) -> str:
        nonce = secrets.token_hex(16)
        return f"{nonce}.{self._mac('session', nonce)}"

    def valid_session(self, value: Optional[str]) -> bool:
        nonce, _, mac = (value or "").partition(".")
        return bool(nonce) and len(value or "") < 100 and hmac.compare_digest(mac, self._mac("session", nonce))

    def issue(self, session: str, listing_id: int, ad_id: Optional[int], propensity: Optional[float] = None,
              now: Optional[float] = None) -> str:
        """An impression id for `listing_id` (and its ad, if one was shown, chosen with `propensity`) served to
        `session` now."""
        issued = int(now if now is not None else time.time())
        payload = f"{listing_id}.{ad_id or 0}.{_propensity_code(propensity)}.{issued}.{secrets.token_hex(8)}"
        return f"{payload}.{self._mac('impression', session, payload)}"

    def check(self, token: str, session: str, listing_id: Optional[int], ad_id: Optional[int],
              now: Optional[float] = None) -> Optional[float]:
        """The propensity `token` was issued with (None: none, a listing shown without an ad); raises
        ImpressionRefused naming why `token` does not vouch for this listing and ad in `session`."""
        parts = token.split(".")
        if len(parts) != 6 or not all(part.isalnum() and part.isascii() for part in parts):
            raise ImpressionRefused("impression_id is not one this server issues")
        payload, mac = ".".join(parts[:5]), parts[5]
        if not hmac.compare_digest(mac, self._mac("impression", session, payload)):
            raise ImpressionRefused("impression_id was not issued to this session (forged, or another session's)")
        shown_listing, shown_ad, issued = int(parts[0]), int(parts[1]), int(parts[3])
        if (shown_listing, shown_ad) != (listing_id, ad_id or 0):
            shown = f"listing {shown_listing}" + (f" with ad {shown_ad}" if shown_ad else " without an ad")
            raise ImpressionRefused(f"impression_id was issued for {shown}, not for listing {listing_id}"
                                    + (f" with ad {ad_id}" if ad_id else " without an ad"))
        age = (now if now is not None else time.time()) - issued
        if age > self.ttl_s:
            raise ImpressionRefused(f"impression_id expired {age - self.ttl_s:.0f}s ago "
                                    f"(impressions are good for {self.ttl_s:.0f}s; search again)")
        return _propensity_of(parts[2])


def _propensity_code(propensity: Optional[float]) -> str:
    """The propensity as it goes into a token: the float's 64 bits in hex (exact, and no dot), "0" for none."""
    return "0" if propensity is None else struct.pack(">d", propensity).hex()


def _propensity_of(code: str) -> Optional[float]:
    return None if code == "0" else struct.unpack(">d", bytes.fromhex(code))[0]


def served(signer: Signer, session: str, hits: Iterable[dict]) -> None:
    """Give each hit, and the ad shown with it, its impression id (in place): what the API and the simulator
    serve, and what the events sent back must carry."""
    for hit in hits:
        hit["impression_id"] = signer.issue(session, hit["id"], None)
        if hit.get("ad"):
            hit["ad"]["impression_id"] = signer.issue(session, hit["id"], hit["ad"]["id"],
                                                      hit["ad"].get("propensity"))


def check_served(events: Sequence[Event], signer: Signer, session: str, *, may_book: bool,
                 now: Optional[float] = None) -> tuple[list[Event], list[tuple[int, str]]]:
    """The events sent from `session` as they may be stored, and their problems as (index, reason). No problem:
    every one points at an impression served to this session, at most once per kind, books come from a trusted
    writer, and an impression carries the propensity its token was issued with (sent or not; another is
    refused)."""
    checked, problems, seen = [], [], set()
    for index, event in enumerate(events):
        try:
            if event.kind == "book" and not may_book:
                raise EventError("a book event comes only from a trusted writer (over HTTP: the booking token)")
            if event.kind in SERVED_KINDS:
                event = _vouched(event, signer, session, now)
                if (event.impression_id, event.kind) in seen:
                    raise ImpressionRefused(f"a second {event.kind} of one impression in this request")
                seen.add((event.impression_id, event.kind))
            checked.append(event)
        except EventError as error:
            problems.append((index, str(error)))
    return checked, problems


def _vouched(event: Event, signer: Signer, session: str, now: Optional[float]) -> Event:
    """`event` as its impression id vouches for it: an impression with the propensity signed into its token."""
    if not event.impression_id:
        raise ImpressionRefused(f"a {event.kind} needs the impression_id the search served with the listing "
                                "(or its ad)")
    signed = signer.check(event.impression_id, session, event.listing_id, event.ad_id, now)
    if event.kind != "impression":
        return event
    if event.propensity is not None and event.propensity != signed:
        served = "no propensity (a listing shown without an ad)" if signed is None else f"propensity {signed!r}"
        raise ImpressionRefused(f"propensity {event.propensity!r} is not the one this impression was served "
                                f"with ({served}); send it as served, or leave it out")
    return event if event.propensity == signed else replace(event, propensity=signed)
