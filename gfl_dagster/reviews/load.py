"""Reviews file -> `reviews` table, and each review's stay -> `feedback_events`: validated, idempotent.

A review whose listing is not in `listings` is a reject with its line and reason, kept in `review_rejects` as
listing rejects are. Loading the same file twice changes nothing: unchanged rows are not written (no version
bump, no notification) and each stay is recorded once.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from psycopg2.extras import execute_values
from sqlalchemy import Engine

from gfl_dagster.db import queries, tables
from gfl_dagster.feedback.events import Event
from gfl_dagster.feedback.record import record_once
from gfl_dagster.listings.load import loading_name, values_page
from gfl_dagster.reviews.review_rows import parse_reviews, without_unknown_listings

BATCH_SIZE = 2000
_UPSERT_PAGE = values_page(tables.UPSERT_REVIEWS)


@dataclass
class ReviewLoadReport:
    source_file: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    stays_recorded: int = 0
    listings: int = 0  # distinct listings the loaded reviews are of
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.source_file}: {self.rows_read} reviews read, {self.inserted} inserted, {self.updated} "
                f"updated, {self.unchanged} unchanged, {self.rejected} rejected, {self.listings} listings, "
                f"{self.stays_recorded} stays recorded, {self.seconds:.1f}s")


def stay(review: dict[str, Any]) -> Event:
    """A review is a stay: a trusted `book` of its reviewer (`guest-<reviewer_id>`) on its listing at its date."""
    guest = review["reviewer_id"] if review["reviewer_id"] is not None else f"review-{review['id']}"
    occurred = dt.datetime.combine(review["date"], dt.time(), tzinfo=dt.timezone.utc)
    return Event("book", f"guest-{guest}", listing_id=review["listing_id"], occurred_at=occurred,
                 source_ref=f"review:{review['id']}")


def load_reviews_file(
    engine: Engine,
    path: Path | str,
    limit: Optional[int] = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> ReviewLoadReport:
    """Upsert a reviews file by review id and record each review's stay.

    Each batch (its reviews and their stays) commits on its own, so an interrupted load keeps what it wrote and
    a rerun finishes the rest. `progress(reviews written, reviews to write)` after each batch; the loading
    session is named after its progress (`gfl status` shows it from another process).
    """
    started = time.monotonic()
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"reviews file not found: {path}")
    parsed = parse_reviews(path, limit)
    with engine.connect() as connection:
        known = {row.id for row in connection.execute(queries.ALL_LISTING_IDS)}
    parsed = without_unknown_listings(parsed, known)
    rows, rejects = parsed.rows, parsed.rejects
    report = ReviewLoadReport(str(path), rows_read=len(rows) + len(rejects), rejected=len(rejects),
                              listings=len({row["listing_id"] for row in rows}))
    raw = engine.raw_connection()
    try:
        for start in range(0, len(rows), BATCH_SIZE):
            batch = rows[start:start + BATCH_SIZE]
            with raw.cursor() as cursor:
                cursor.execute(queries.NAME_LOADING_SESSION, (loading_name(start, len(rows), path.name),))
                written = [inserted for (inserted,) in execute_values(
                    cursor, _UPSERT_PAGE, [tuple(row[c] for c in tables.REVIEW_COLUMNS) for row in batch],
                    page_size=BATCH_SIZE, fetch=True)]
            raw.commit()
            report.inserted += sum(written)
            report.updated += len(written) - sum(written)
            report.unchanged += len(batch) - len(written)
            report.stays_recorded += record_once(engine, [stay(row) for row in batch])
            progress(min(start + BATCH_SIZE, len(rows)), len(rows))
    finally:
        try:  # a pooled connection: its session would keep the name, and seem to load still
            raw.rollback()
            with raw.cursor() as cursor:
                cursor.execute(queries.NAME_LOADING_SESSION, ("",))
            raw.commit()
        except Exception:  # the connection broke (the reason is raised already): never reused
            raw.invalidate()
        raw.close()
    if rejects:
        with engine.begin() as connection:
            connection.execute(tables.UPSERT_REVIEW_REJECT, [
                {"source_file": str(path), "line_number": r.line_number, "review_id": r.raw.get("id") or None,
                 "listing_id": r.listing_id, "reason": r.reason, "raw": r.raw} for r in rejects])
    report.seconds = time.monotonic() - started
    return report
