"""Which listings the same guests booked: (listing, other, guests who booked both), from the trusted bookings.

Counted here (`co_booking_counts`, pure: the benchmark counts its training reviews with it) and written whole
to listing_co_bookings (`rebuild_co_bookings`, the listing_co_bookings asset). A guest counts once per pair
however often they booked either. Only a guest's `MAX_LISTINGS_PER_GUEST` most recent listings pair up: a
test account or an operator with thousands of bookings would otherwise add millions of pairs that say
nothing about taste.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from itertools import permutations
from typing import Hashable, Iterable

from sqlalchemy import Engine

from gfl_dagster.db import queries, tables

MAX_LISTINGS_PER_GUEST = 50
BATCH = 5000


def co_booking_counts(bookings: Iterable[tuple[Hashable, int]]) -> Counter:
    """{(listing, other): guests}, both directions, from (guest, listing) bookings given newest first."""
    by_guest: dict[Hashable, list[int]] = {}
    for guest, listing in bookings:
        listings = by_guest.setdefault(guest, [])
        if listing not in listings and len(listings) < MAX_LISTINGS_PER_GUEST:
            listings.append(listing)
    counts: Counter = Counter()
    for listings in by_guest.values():
        counts.update(permutations(listings, 2))
    return counts


@dataclass(frozen=True)
class CoBookingsBuilt:
    source_event_id: int
    guests: int
    pairs: int
    seconds: float


def rebuild_co_bookings(engine: Engine) -> CoBookingsBuilt:
    """Replaces listing_co_bookings with the counts of every trusted booking, in one transaction (a reader
    sees the old table or the new one, never half of it)."""
    started = time.monotonic()
    with engine.connect() as connection:
        bookings = connection.execute(queries.TRUSTED_BOOKINGS).all()
    counts = co_booking_counts((row.user_id, row.listing_id) for row in bookings)
    rows = [{"listing_id": a, "other_id": b, "guests": n} for (a, b), n in counts.items()]
    newest = max((row.newest for row in bookings), default=0)
    with engine.begin() as connection:
        for statement in queries.CLEAR_CO_BOOKINGS:
            connection.execute(statement)
        for start in range(0, len(rows), BATCH):
            connection.execute(tables.listing_co_bookings.insert(), rows[start:start + BATCH])
        guests = len({row.user_id for row in bookings})
        connection.execute(queries.RECORD_CO_BOOKINGS_BUILT,
                           {"source_event_id": newest, "guests": guests, "pairs": len(rows)})
    return CoBookingsBuilt(newest, guests, len(rows), time.monotonic() - started)
