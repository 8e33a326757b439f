"""Storing validated feedback events: append-only, one insert per batch, unknown listings refused."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import Engine

from gfl_dagster.db import queries, tables
from gfl_dagster.feedback.events import Event, EventError


def record_events(engine: Engine, events: Sequence[Event]) -> int:
    """Store every event or none: an event about a listing that does not exist is refused, naming it."""
    if not events:
        return 0
    listing_ids = sorted({event.listing_id for event in events if event.listing_id is not None})
    with engine.begin() as connection:
        if listing_ids:
            known = {row.id for row in connection.execute(queries.EXISTING_LISTINGS, {"ids": listing_ids})}
            unknown = [listing_id for listing_id in listing_ids if listing_id not in known]
            if unknown:
                raise EventError(f"unknown listing_id {', '.join(map(str, unknown[:10]))}"
                                 + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""))
        connection.execute(tables.feedback_events.insert(), [event.row() for event in events])
    return len(events)
