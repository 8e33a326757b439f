"""The soak's stream of changes, as applications write them, at a set rate: a list of kinds of change per
source table (STREAM). For `listings`: inserts, content and filterable-only updates, deletes, re-inserts of
deleted ids, bursts on one row, and transactions held open across several sensor ticks (the changes of
`gfl simulate`, listings/simulation.py, are its building blocks). For `reviews`: a guest's new review of a living
listing, a review's comments rewritten, a review deleted; each regenerates its listing's guest summary, which
its embedding text carries. The soak writes some reviews of the listings it loads first (`seed_reviews`).

The stream outlives the faults it runs beside: a write that fails (the database is restarting) is
counted and tried again, never counted as a change.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

from sqlalchemy import Connection, Engine

from gfl_dagster.db import queries
from gfl_dagster.listings.simulation import choose_operation

BURST_WRITES = 5
LONG_TRANSACTION_WRITES = 3
LONG_TRANSACTION_S = (8.0, 16.0)  # the daemon ticks every 5 s: each one spans two ticks or more
MAX_OPEN_TRANSACTIONS = 3


@dataclass
class StreamReport:
    changes: Counter = field(default_factory=Counter)  # committed writes by operation
    write_errors: int = 0  # writes that failed (and were tried again)
    rolled_back: int = 0  # long transactions a fault ended before their commit
    last_commit_at: float = 0.0  # time.monotonic() of the last committed change
    errors: list[str] = field(default_factory=list)  # the first few, for the report

    @property
    def total(self) -> int:
        return sum(self.changes.values())

    def failed(self, error: Exception) -> None:
        self.write_errors += 1
        if len(self.errors) < 5:
            self.errors.append(f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")


def _update_content(connection: Connection, rng: random.Random, listing_id: int) -> None:
    connection.execute(queries.SIMULATE_UPDATE_PRICE, {"factor": rng.choice((0.8, 1.25)), "id": listing_id})


def _update_filterable(connection: Connection, rng: random.Random, listing_id: int) -> None:
    connection.execute(queries.SIMULATE_UPDATE_AVAILABILITY, {"days": rng.randint(0, 365), "id": listing_id})


def _insert(connection: Connection, rng: random.Random, listing_id: int) -> None:
    connection.execute(queries.SIMULATE_INSERT, {"jitter": rng.uniform(-0.001, 0.001), "id": listing_id})


def _delete(connection: Connection, rng: random.Random, listing_id: int) -> None:
    connection.execute(queries.SIMULATE_DELETE, {"id": listing_id})


def _reinsert(connection: Connection, rng: random.Random, listing_id: int) -> bool:
    """A deleted id comes back, with the attributes of `listing_id`."""
    deleted = connection.execute(queries.SOAK_PICK_DELETED).scalar()
    if deleted is None:
        return False
    connection.execute(queries.SOAK_REINSERT, {"id": deleted, "template_id": listing_id})
    return True


# Guests' words the soak writes: each mentions aspects of reviews/aspects.toml, so the summaries of listings with
# two or more reviews state counts, and a review written, rewritten or deleted changes them.
REVIEW_COMMENTS = (
    "Very clean room and a really helpful host.",
    "Quiet at night, and the location is great: close to the subway.",
    "The bed was comfortable and the wifi was fast.",
    "Good value for money, and check-in was easy.",
    "Spacious and clean, with a lovely view from the window.",
    "The host answered quickly; the location was convenient.",
)
SEED_REVIEWS_PER_LISTING = (0, 4)  # each loaded listing gets between these many reviews, at random


def _review(connection: Connection, rng: random.Random, listing_id: int) -> None:
    connection.execute(queries.NEW_REVIEW, {"listing_id": listing_id, "reviewer_id": rng.randrange(1, 10**9),
                                            "reviewer_name": "Soak guest", "comments": rng.choice(REVIEW_COMMENTS)})


def seed_reviews(engine: Engine, rng: random.Random,
                 per_listing: tuple[int, int] = SEED_REVIEWS_PER_LISTING) -> int:
    """Reviews of the listings loaded, before the first sync: the reviews' changes then edit and delete them."""
    with engine.begin() as connection:
        listing_ids = [row[0] for row in connection.execute(queries.ALL_LISTING_IDS)]
        written = 0
        for listing_id in listing_ids:
            for _ in range(rng.randint(*per_listing)):
                _review(connection, rng, listing_id)
                written += 1
    return written


def _edit_review(connection: Connection, rng: random.Random) -> bool:
    return connection.execute(queries.SOAK_EDIT_REVIEW, {"comments": rng.choice(REVIEW_COMMENTS)}).rowcount == 1


def _delete_review(connection: Connection, rng: random.Random) -> bool:
    return connection.execute(queries.SOAK_DELETE_REVIEW).rowcount == 1


Write = Callable[[Connection, random.Random], bool]


def _on_a_listing(change: Callable[[Connection, random.Random, int], Optional[bool]]) -> Write:
    """`change` applied to a random living listing no other transaction holds; False when there is none."""
    def write(connection: Connection, rng: random.Random) -> bool:
        listing_id = connection.execute(queries.SOAK_PICK).scalar()
        return listing_id is not None and change(connection, rng, listing_id) is not False
    return write


@dataclass(frozen=True)
class ChangeKind:
    """One kind of change to one source table, and its share of the stream's operations (a relative weight)."""

    name: str  # unique across the stream: the report counts changes by it
    share: float
    # One change in the caller's transaction; False when it found nothing to act on. None: a shape of
    # `update_content` the stream writes itself (BURST_WRITES commits on one row, a transaction held open).
    write: Optional[Write]


# A burst writes BURST_WRITES changes, a long transaction LONG_TRANSACTION_WRITES; every other operation one.
LISTING_CHANGES = (
    ChangeKind("update_content", 0.30, _on_a_listing(_update_content)),
    ChangeKind("update_filterable", 0.22, _on_a_listing(_update_filterable)),
    ChangeKind("insert", 0.12, _on_a_listing(_insert)),
    ChangeKind("delete", 0.12, _on_a_listing(_delete)),
    ChangeKind("reinsert", 0.08, _on_a_listing(_reinsert)),
    ChangeKind("burst", 0.10, None),
    ChangeKind("long_transaction", 0.06, None),
)
# A modest share (about 9% of the stream): each costs what a listing's content update does (a summary, an
# embedding), and the CI soak's time is bounded.
REVIEW_CHANGES = (
    ChangeKind("review_insert", 0.04, _on_a_listing(_review)),
    ChangeKind("review_edit", 0.03, _edit_review),
    ChangeKind("review_delete", 0.03, _delete_review),
)
# The stream: the kinds of change of each source table.
STREAM: dict[str, tuple[ChangeKind, ...]] = {"listings": LISTING_CHANGES, "reviews": REVIEW_CHANGES}


def mix(stream: Mapping[str, Sequence[ChangeKind]]) -> tuple[tuple[str, float], ...]:
    """(name, share) of every kind of every source, shares summing to 1, in the stream's order."""
    kinds = [kind for source_kinds in stream.values() for kind in source_kinds]
    names = [kind.name for kind in kinds]
    if len(set(names)) != len(names):
        raise ValueError(f"change kinds must have unique names across sources: {names}")
    total = sum(kind.share for kind in kinds)
    return tuple((kind.name, kind.share / total) for kind in kinds)


MIX = mix(STREAM)


class ChangeStream:
    """`run(n)` writes n changes at `rate` per second; long transactions commit on threads of their own."""

    def __init__(self, engine: Engine, rng: random.Random, rate: float,
                 echo: Callable[[str], None] = lambda line: None,
                 hold_s: tuple[float, float] = LONG_TRANSACTION_S,
                 stream: Mapping[str, Sequence[ChangeKind]] = STREAM) -> None:
        self.engine, self.rng, self.rate, self.echo, self.hold_s = engine, rng, rate, echo, hold_s
        self.mix = mix(stream)
        self.kinds = {kind.name: kind for source_kinds in stream.values() for kind in source_kinds}
        self.report = StreamReport()
        self.lock = threading.Lock()
        self.open_transactions: list[threading.Thread] = []

    def run(self, changes: int) -> StreamReport:
        started = time.monotonic()
        while self.report.total < changes:  # again if a fault rolled back a long transaction at the end
            while self.report.total < changes:
                # Paced by the clock, not by sleeps after each write: slow writes do not lower the rate.
                time.sleep(max(0.0, started + self.report.total / self.rate - time.monotonic()))
                before = self.report.total
                self._operation(choose_operation(self.rng, self.mix), changes - self.report.total)
                if before // 500 != self.report.total // 500:
                    self.echo(f"{self.report.total}/{changes} changes, {self.report.write_errors} write errors")
            for thread in self.open_transactions:
                thread.join()
        return self.report

    def _operation(self, operation: str, left: int) -> None:
        write = self.kinds[operation].write
        if write is not None:
            self._commit(operation, lambda connection: write(connection, self.rng))
        elif operation == "burst" and left >= BURST_WRITES:
            for _ in range(BURST_WRITES):  # the same row, a commit each, back to back
                self._burst_write()
        elif operation == "long_transaction" and left >= LONG_TRANSACTION_WRITES:
            self._open_long_transaction()

    def _commit(self, operation: str, write: Callable[[Connection], bool], count: int = 1) -> None:
        try:
            with self.engine.begin() as connection:
                done = write(connection)
        except Exception as error:  # the database is restarting, a lock was broken...: try again later
            self.report.failed(error)
            time.sleep(0.2)
            return
        if done:
            self._counted(operation, count)

    def _counted(self, operation: str, count: int) -> None:
        with self.lock:
            self.report.changes[operation] += count
            self.report.last_commit_at = time.monotonic()

    _burst_row: Optional[int] = None

    def _burst_write(self) -> None:
        def write(connection: Connection) -> bool:
            if self._burst_row is None:
                self._burst_row = connection.execute(queries.SOAK_PICK).scalar()
            if self._burst_row is None:
                return False
            _update_content(connection, self.rng, self._burst_row)
            return True

        self._commit("burst", write)
        if self.report.changes["burst"] % BURST_WRITES == 0:
            self._burst_row = None  # the burst is over (or its row was deleted: the next one picks again)

    def _open_long_transaction(self) -> None:
        self.open_transactions = [thread for thread in self.open_transactions if thread.is_alive()]
        if len(self.open_transactions) >= MAX_OPEN_TRANSACTIONS:
            self._operation("update_content", 1)
            return
        held_s = self.rng.uniform(*self.hold_s)
        seed = self.rng.random()
        thread = threading.Thread(target=self._long_transaction, args=(held_s, seed), daemon=True)
        self.open_transactions.append(thread)
        thread.start()
        # Reserved now, so the stream's count stays exact; given back if a fault ends the transaction.
        self._counted("long_transaction", LONG_TRANSACTION_WRITES)

    def _long_transaction(self, held_s: float, seed: float) -> None:
        rng = random.Random(seed)  # the stream's generator is not shared across threads
        try:
            with self.engine.begin() as connection:
                for _ in range(LONG_TRANSACTION_WRITES):
                    listing_id = connection.execute(queries.SOAK_PICK).scalar()
                    if listing_id is not None:
                        _update_content(connection, rng, listing_id)
                time.sleep(held_s)
        except Exception as error:
            with self.lock:
                self.report.changes["long_transaction"] -= LONG_TRANSACTION_WRITES
                self.report.rolled_back += 1
            self.report.failed(error)
            return
        with self.lock:
            self.report.last_commit_at = time.monotonic()
