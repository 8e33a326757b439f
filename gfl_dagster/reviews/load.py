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

from sqlalchemy import Engine

from gfl_dagster.db import queries, tables
from gfl_dagster.feedback.events import Event
from gfl_dagster.feedback.record import record_once
from gfl_dagster.listings.load import upsert_in_batches, values_page
from gfl_dagster.reviews.review_rows import parse_reviews, without_unknown_listings

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

    def record_stays(batch: list[dict[str, Any]]) -> None:  # after the batch's reviews, so a rerun records the rest
        report.stays_recorded += record_once(engine, [stay(row) for row in batch])

    report.inserted, report.updated, report.unchanged = upsert_in_batches(
        engine, _UPSERT_PAGE, tables.REVIEW_COLUMNS, rows, path.name, progress, record_stays)
    if rejects:
        with engine.begin() as connection:
            connection.execute(tables.UPSERT_REVIEW_REJECT, [
                {"source_file": str(path), "line_number": r.line_number, "review_id": r.raw.get("id") or None,
                 "listing_id": r.listing_id, "reason": r.reason, "raw": r.raw} for r in rejects])
    report.seconds = time.monotonic() - started
    return report
