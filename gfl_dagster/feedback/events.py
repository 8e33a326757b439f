"""Feedback events: the kinds, and the validation that turns untrusted input into an event or a clear error.

Pure: no database. The listing (and ad) ids are checked against the database by
`record.py`, which stores only events that passed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional

KINDS = ("search", "impression", "view", "click", "save", "book")
# Every kind but a search is about one listing.
LISTING_KINDS = frozenset(KINDS) - {"search"}
MAX_USER_ID = 128
MAX_QUERY = 500
# Clocks differ: an event stamped this far ahead of the server is still accepted.
CLOCK_SKEW = timedelta(seconds=60)
FIELDS = ("kind", "user_id", "listing_id", "ad_id", "query", "occurred_at", "impression_id", "propensity")
MAX_IMPRESSION_ID = 200


class EventError(ValueError):
    """An event that cannot be stored as given; the message names the field."""


@dataclass(frozen=True)
class Event:
    kind: str
    user_id: str
    listing_id: Optional[int] = None
    ad_id: Optional[int] = None
    query: Optional[str] = None
    occurred_at: Optional[datetime] = None  # None: now
    impression_id: Optional[str] = None  # what the server served (feedback/impressions.py)
    propensity: Optional[float] = None  # an impression's: the probability the policy showed what it showed
    source_ref: Optional[str] = None  # what a loaded event stands for ("review:<id>"): recorded once

    def row(self) -> dict[str, Any]:
        # Stored means trusted: only the checked paths (the API after check_served, the simulator, the
        # operator's `gfl feedback`) reach record_events; rows from before the checks are not.
        return {"kind": self.kind, "user_id": self.user_id, "listing_id": self.listing_id, "ad_id": self.ad_id,
                "query": self.query, "occurred_at": self.occurred_at or datetime.now(timezone.utc),
                "impression_id": self.impression_id, "propensity": self.propensity, "trusted": True,
                "source_ref": self.source_ref}


def search_event(user_id: str, query: str) -> Event:
    """A search as the API records it. Its impressions are recorded by whatever draws the hits (the page posts
    them once drawn): only it knows what a person saw, and an answer it dropped was never seen."""
    return validate_event({"kind": "search", "user_id": user_id, "query": query[:MAX_QUERY]})


_BIGINT_MAX = 2**63 - 1  # the ids are Postgres bigints


def _whole_number(name: str, value: Any) -> Optional[int]:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise EventError(f"{name} must be a whole number, got {value!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise EventError(f"{name} must be a whole number, got {value!r}") from None
    if number < 1:
        raise EventError(f"{name} must be positive, got {number}")
    if number > _BIGINT_MAX:
        raise EventError(f"{name} must be at most {_BIGINT_MAX}")
    return number


def _timestamp(value: Any, now: datetime) -> Optional[datetime]:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        stamp = value
    else:
        try:
            stamp = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise EventError(f"occurred_at must be an ISO 8601 time, got {value!r}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    try:
        stamp = stamp.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise EventError(f"occurred_at {value!r} is out of range") from None
    if stamp > now + CLOCK_SKEW:
        raise EventError(f"occurred_at {stamp.isoformat()} is in the future")
    return stamp


def validate_event(raw: Mapping[str, Any], now: Optional[datetime] = None) -> Event:
    """An Event from untrusted input (JSON body, CLI flags); raises EventError naming the field."""
    if not isinstance(raw, Mapping):
        raise EventError(f"an event is an object with the fields {', '.join(FIELDS)}")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise EventError(f"unknown field(s) {', '.join(unknown)}; fields: {', '.join(FIELDS)}")
    kind = str(raw.get("kind") or "").strip().lower()
    if kind not in KINDS:
        raise EventError(f"kind {raw.get('kind')!r} is not one of {', '.join(KINDS)}")
    user_id = str(raw.get("user_id") or "").strip()
    if not user_id:
        raise EventError("user_id is missing")
    if len(user_id) > MAX_USER_ID or not user_id.isprintable():
        raise EventError(f"user_id must be printable text of at most {MAX_USER_ID} characters")
    listing_id = _whole_number("listing_id", raw.get("listing_id"))
    if kind in LISTING_KINDS and listing_id is None:
        raise EventError(f"a {kind} event needs a listing_id")
    query = raw.get("query")
    query = None if query is None else str(query).strip() or None
    if kind == "search" and not query:
        raise EventError("a search event needs its query")
    if query is not None and len(query) > MAX_QUERY:
        raise EventError(f"query is longer than {MAX_QUERY} characters")
    if query is not None and any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in query):
        raise EventError("query must not contain NUL or unpaired surrogate characters")
    impression_id = raw.get("impression_id")
    if impression_id is not None and (not isinstance(impression_id, str) or not impression_id.isascii()
                                      or not impression_id.isprintable() or len(impression_id) > MAX_IMPRESSION_ID):
        raise EventError(f"impression_id must be the text the search served, at most {MAX_IMPRESSION_ID} characters")
    return Event(kind, user_id, listing_id, _whole_number("ad_id", raw.get("ad_id")), query,
                 _timestamp(raw.get("occurred_at"), now or datetime.now(timezone.utc)), impression_id or None,
                 _propensity(kind, raw.get("propensity")))


def _propensity(kind: str, value: Any) -> Optional[float]:
    """An impression's propensity: a probability in (0, 1]."""
    if value is None:
        return None
    if kind != "impression":
        raise EventError(f"propensity belongs to impression events, not to a {kind}")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise EventError(f"propensity must be a number in (0, 1], got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise EventError(f"propensity must be a number in (0, 1], got {value!r}") from None
    if not 0.0 < number <= 1.0:  # also refuses NaN
        raise EventError(f"propensity must be a number in (0, 1], got {value!r}")
    return number
