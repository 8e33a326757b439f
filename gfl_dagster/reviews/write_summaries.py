"""One area's stale guest summaries -> `guest_summaries`: only listings whose reviews changed since their summary.

A summary records what it was built from: the review ids it read, and its listing's review count and newest
review version at the time. A new or edited review raises the newest version, a deleted one lowers the count:
either makes that one listing's summary stale, and nothing else. A listing whose reviews are all gone gets an
empty summary (so its vector is embedded again without one). A listing whose summary cannot be written at all (the
template itself fails on its reviews) is recorded in `sync_failures`, as a description is, and retried; after a
few failures at the same reviews it is skipped as a poison row (it never blocks its area) until they change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Callable, Optional

from sqlalchemy import Engine

from gfl_dagster.change_capture.area_lock import area_lock
from gfl_dagster.change_capture.poison import is_poison
from gfl_dagster.db import queries, tables
from gfl_dagster.generation.generate import ChatModel, Generated
from gfl_dagster.listings import embed
from gfl_dagster.listings.identity import content_hash
from gfl_dagster.reviews.guest_summary import TEMPLATE_MODEL, GuestSummary
from gfl_dagster.reviews.summaries import write_guest_summary

STAGE = "guest_summary"
COMMIT_EVERY = 64


def summarizer_name(model: Optional[ChatModel]) -> str:
    """What writes guest summaries: the configured chat model, else the template."""
    return model.chat_model if model is not None and model.has_chat and model.chat_model else TEMPLATE_MODEL


@dataclass
class SummaryReport:
    area: str
    rows_seen: int = 0  # listings whose summary was stale
    written: int = 0  # summaries with text
    empty: int = 0  # listings whose reviews support no aspect (or are all gone)
    reviews_used: int = 0  # reviews read by the summaries written
    fallbacks: int = 0  # the template stood in for the chat model
    deleted: int = 0  # summaries of listings that no longer exist
    failed: int = 0  # listings whose summary could not be written: recorded in sync_failures
    skipped_poison: int = 0  # listings that failed too often at the same reviews
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


def _summarize(model: Optional[ChatModel], reviews: list[dict[str, Any]]) -> tuple[Generated, GuestSummary]:
    """The listing's summary; a model service that fails leaves the template's, with the reason."""
    try:
        return write_guest_summary(model, reviews)
    except Exception as error:  # the template never fails: search keeps what the reviews say
        generated, template = write_guest_summary(None, reviews)
        reason = f"the model service failed: {type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
        return Generated(generated.text, generated.model, [reason], fell_back=True), template


def reviews_hash(reviews: list[dict[str, Any]], model: str) -> str:
    """What a summary is built from (its reviews' ids and versions, and its writer): a failure at the same
    hash is the same failure; a new, edited or deleted review, or another model, starts again."""
    return content_hash([sorted((r["id"], r["version"]) for r in reviews), model])


def summary_row(listing_id: int, area: str, reviews: list[dict[str, Any]], generated: Generated,
                template: GuestSummary, model: str) -> dict[str, Any]:
    return {
        "listing_id": listing_id, "area": area, "summary": generated.text,
        "review_ids": list(template.review_ids), "aspects": list(template.aspects),
        "review_count": len(reviews), "newest_review_version": max((r["version"] for r in reviews), default=0),
        "model": model, "written_by": generated.model,
        "fallback_reason": "; ".join(generated.problems)[:1000] if generated.fell_back else None,
    }


def summarize_area(engine: Engine, model: Optional[ChatModel], area: str,
                   progress: Callable[[str], None] = lambda message: None) -> SummaryReport:
    """Regenerate the area's stale guest summaries, one per listing, under the area's summary lock."""
    started = time.monotonic()
    report = SummaryReport(area)
    name = summarizer_name(model)
    with area_lock(engine, STAGE, area):
        with engine.connect() as connection:
            stale = [row.listing_id for row in connection.execute(queries.LISTINGS_NEEDING_SUMMARY,
                                                                  {"area": area, "model": name})]
            reviews = [dict(row) for row in connection.execute(queries.REVIEWS_OF_LISTINGS, {"ids": stale}).mappings()]
            failures = {r.listing_id: r for r in connection.execute(queries.FAILURES_FOR, {"stage": STAGE, "ids": stale})}
        report.rows_seen = len(stale)
        by_listing = {key: list(group) for key, group in groupby(reviews, key=lambda r: r["listing_id"])}
        rows, failed = [], []
        for done, listing_id in enumerate(stale, start=1):
            listing_reviews = by_listing.get(listing_id, [])
            input_hash = reviews_hash(listing_reviews, name)
            if is_poison(failures.get(listing_id), input_hash):
                report.skipped_poison += 1
            else:
                try:
                    generated, template = _summarize(model, listing_reviews)
                except Exception as error:  # one listing's failure is recorded, never fails the area
                    failed.append({"listing_id": listing_id, "stage": STAGE, "area": area, "input_hash": input_hash,
                                   "reason": f"{type(error).__name__}: {error}"[:1000]})
                else:
                    rows.append(summary_row(listing_id, area, listing_reviews, generated, template, name))
                    report.prompt_tokens += generated.prompt_tokens
                    report.completion_tokens += generated.completion_tokens
                    report.fallbacks += generated.fell_back
                    if generated.text:
                        report.written += 1
                        report.reviews_used += len(template.review_ids)
                    else:
                        report.empty += 1
            if (rows or failed) and (len(rows) + len(failed) >= COMMIT_EVERY or done == len(stale)):
                _save(engine, area, rows, failed)
                report.failed += len(failed)
                rows, failed = [], []
                progress(f"{area}: summarized {done}/{len(stale)} listings")
        with engine.begin() as connection:
            report.deleted = connection.execute(queries.DELETE_ORPHAN_SUMMARIES, {"area": area}).rowcount
    report.seconds = time.monotonic() - started
    return report


def _save(engine: Engine, area: str, rows: list[dict[str, Any]], failed: list[dict[str, Any]]) -> None:
    with embed.committing_embedding_input(engine, area) as connection:
        if rows:
            connection.execute(tables.UPSERT_GUEST_SUMMARY, rows)
            connection.execute(queries.CLEAR_FAILURES, {"stage": STAGE, "ids": [r["listing_id"] for r in rows]})
        if failed:
            connection.execute(tables.RECORD_FAILURE, failed)
