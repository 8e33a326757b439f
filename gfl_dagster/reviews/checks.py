"""The guest summaries' check, per area: every reviewed listing has a summary as current as its reviews, or a
recorded failure (sync_failures, as the describer records its own). Reviews that changed after the run started
are the next run's to carry: counted apart, never a failure."""

from datetime import datetime
from typing import Any

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from gfl_dagster.db import queries
from gfl_dagster.listings.checks import CheckOutcome, sample_ids, run_window
from gfl_dagster.listings.partitions import area_partitions
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.reviews.write_summaries import STAGE


def summaries_outcome(rows: list, reviewed: int, scope: dict[str, Any]) -> CheckOutcome:
    """`rows`: SUMMARIES_BEHIND_WITHOUT_FAILURE's, for `reviewed` listings with reviews."""
    behind = [row.listing_id for row in rows if not row.changed_since]
    missing = [row.listing_id for row in rows if not row.changed_since and row.missing]
    return CheckOutcome("summaries_follow_reviews", "guest_summaries", not behind, {
        **scope, "reviewed_listings": reviewed, "behind": len(behind), "of_which_missing": len(missing),
        "changed_during_run": len(rows) - len(behind), "behind_ids": sample_ids(behind)})


def area_summaries_outcome(connection, area: str, started: datetime, scope: dict[str, Any]) -> CheckOutcome:
    rows = connection.execute(queries.SUMMARIES_BEHIND_WITHOUT_FAILURE,
                              {"area": area, "started": started, "stage": STAGE}).all()
    reviewed = connection.execute(queries.REVIEWED_LISTINGS_IN_AREA, {"area": area}).scalar_one()
    return summaries_outcome(rows, reviewed, scope)


# After listing_vectors, as the descriptions' check: in a sync run it never delays what makes a change searchable.
@asset_check(asset="guest_summaries", partitions_def=area_partitions, additional_deps=["listing_vectors"],
             description="Every reviewed listing of the area has a guest summary as current as its reviews, or a "
                         "recorded failure.")
def summaries_follow_reviews(context: AssetCheckExecutionContext,
                             database: PostgresResource) -> AssetCheckResult:
    area = context.partition_key
    with database.engine().connect() as connection:
        database_now = connection.execute(queries.DATABASE_CLOCK).scalar_one()
        window = run_window(context.instance, context.run, area, database_now)
        outcome = area_summaries_outcome(connection, area, window.started, {"scope": "whole area"})
    return outcome.result()
