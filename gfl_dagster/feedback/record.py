"""Storing validated feedback events: append-only, one insert per batch, unknown listings refused.

`record_events` stores them in feedback_events; `EventLog` holds them in memory for the simulated market
(`gfl bench loop`, where a database round trip per impression would cost hours), to the same rule.
"""

from __future__ import annotations

from typing import Hashable, Sequence

from sqlalchemy import Connection, Engine
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from gfl_dagster.db import queries, tables
from gfl_dagster.feedback.events import Event, EventError


def record_events(engine: Engine, events: Sequence[Event]) -> int:
    """Store every event or none: an event about a listing that does not exist, or a second event of one kind
    against one impression id (a replayed click), is refused, naming it.

    Stored events are marked trusted: call this only with events a trusted writer vouches for (the operator,
    a loader) or that passed feedback/impressions.check_served (the API, the simulator)."""
    if not events:
        return 0
    with engine.begin() as connection:
        _refuse_unknown_listings(connection, events)
        sent = {(event.impression_id, event.kind) for event in events if event.impression_id}
        if sent:
            recorded = connection.execute(queries.RECORDED_FOR_IMPRESSIONS, {"ids": sorted({i for i, _ in sent})})
            replayed = sorted(f"the {row.kind} of impression_id {row.impression_id}" for row in recorded
                              if (row.impression_id, row.kind) in sent)
            if replayed:
                raise _replayed(replayed)
        try:
            connection.execute(tables.feedback_events.insert(), [event.row() for event in events])
        except IntegrityError:  # the same impression twice in the batch, or a concurrent request first
            raise EventError("already recorded: an impression_id counts each kind once") from None
    return len(events)


def _replayed(replayed: Sequence[str]) -> EventError:
    return EventError(f"already recorded: {replayed[0]}" + (f" and {len(replayed) - 1} more" if len(replayed) > 1
                                                           else "") + " (an impression counts each kind once)")


class EventLog:
    """feedback_events in memory: what record_events would store, held to its rule (an impression counts each
    kind once), and each ad's evidence counted as the ads learner reads the table (AD_STATS: impressions and
    clicks per ad, of trusted events). Only events that passed check_served (or a trusted writer's) belong here."""

    def __init__(self) -> None:
        self._recorded: set[tuple[str, str]] = set()
        self._per_ad: dict[Hashable, list[int]] = {}

    def record(self, events: Sequence[Event]) -> int:
        """Store every event or none (a replayed one refused, naming it)."""
        sent: set[tuple[str, str]] = set()
        replayed = []
        for key in ((event.impression_id, event.kind) for event in events if event.impression_id):
            if key in self._recorded or key in sent:
                replayed.append(f"the {key[1]} of impression_id {key[0]}")
            sent.add(key)
        if replayed:
            raise _replayed(replayed)
        self._recorded |= sent
        for event in events:
            if event.ad_id is not None and event.kind in ("impression", "click"):
                self._per_ad.setdefault(event.ad_id, [0, 0])[event.kind == "click"] += 1
        return len(events)

    def ad_counts(self) -> dict[Hashable, tuple[int, int]]:
        """{ad id: (impressions, clicks)}, of the ads that have any."""
        return {ad_id: (n, c) for ad_id, (n, c) in self._per_ad.items()}


def record_once(engine: Engine, events: Sequence[Event]) -> int:
    """Store the events a trusted loader derives from its source (a review's stay), each once by its
    `source_ref`: loading the same file again records nothing. Returns how many were new. All or none:
    an event about a listing that does not exist is refused, naming it."""
    if any(event.source_ref is None for event in events):
        raise ValueError("record_once stores events that name their source_ref")
    if not events:
        return 0
    statement = insert(tables.feedback_events).on_conflict_do_nothing(
        index_elements=["source_ref"], index_where=tables.feedback_events.c.source_ref.isnot(None))
    with engine.begin() as connection:
        _refuse_unknown_listings(connection, events)
        new = connection.execute(statement.returning(tables.feedback_events.c.id), [e.row() for e in events])
        return len(new.all())


def _refuse_unknown_listings(connection: Connection, events: Sequence[Event]) -> None:
    listing_ids = sorted({event.listing_id for event in events if event.listing_id is not None})
    if not listing_ids:
        return
    known = {row.id for row in connection.execute(queries.EXISTING_LISTINGS, {"ids": listing_ids})}
    unknown = [listing_id for listing_id in listing_ids if listing_id not in known]
    if unknown:
        raise EventError(f"unknown listing_id {', '.join(map(str, unknown[:10]))}"
                         + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""))
