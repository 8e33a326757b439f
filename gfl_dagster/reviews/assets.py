"""The reviews asset graph: reviews file -> reviews -> guest_summaries -> listing_vectors (the summary is part of
its listing's embedding text)."""

from typing import Iterator, Optional

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from gfl_dagster.dagster_instance import LLM_POOL
from gfl_dagster.generation.spend import tracked_spend
from gfl_dagster.listings.assets import RETRY, not_after_a_stop, synced_meanwhile
from gfl_dagster.listings.partitions import area_partitions
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.from_env import asset_kinds
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster.reviews.load import ReviewLoadReport, load_reviews_file
from gfl_dagster.reviews.write_summaries import summarize_area, summarizer_name


class ReviewsLoadConfig(Config):
    path: str = Field(description="Inside Airbnb's reviews file (.csv or .csv.gz), told by its header.")
    limit: Optional[int] = Field(default=None, description="Load only the first N records.")


def review_load_metadata(report: ReviewLoadReport) -> dict:
    """What a load of `reviews` records, whether a run or `gfl load` did it."""
    return {
        "source_file": MetadataValue.path(report.source_file),
        "rows_read": report.rows_read,
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
        "listings": report.listings,
        "stays_recorded": report.stays_recorded,
        "duration_s": round(report.seconds, 2),
    }


@asset(group_name="reviews", deps=["raw_listings"], kinds=asset_kinds("database"))
def reviews(context: AssetExecutionContext, config: ReviewsLoadConfig, database: PostgresResource) -> MaterializeResult:
    """Upserts a reviews file by review id (a review of an unknown listing goes to `review_rejects` with its line
    and reason) and records each review as its guest's stay."""
    report = load_reviews_file(database.engine(), config.path, config.limit,
                               progress=lambda done, total: context.log.info(f"loaded {done}/{total} reviews"))
    context.log.info(report.summary())
    return MaterializeResult(metadata=review_load_metadata(report))


@asset(group_name="reviews", partitions_def=area_partitions, deps=[reviews], retry_policy=RETRY,
       kinds=asset_kinds("database", "chat"), pool=LLM_POOL, output_required=False)
def guest_summaries(context: AssetExecutionContext, database: PostgresResource,
                    model_client: ModelClientResource) -> Iterator[MaterializeResult]:
    """"What guests say" per listing, regenerated only for listings whose reviews changed since their summary."""
    not_after_a_stop(context)
    if synced_meanwhile(context, database):
        return
    with tracked_spend(database.engine(), model_client.usage, "guest_summaries") as spend:
        report = summarize_area(database.engine(), model_client, context.partition_key, progress=context.log.info)
    yield MaterializeResult(metadata={
        "model": summarizer_name(model_client),
        "rows_seen": report.rows_seen,
        "summaries_written": report.written,
        "without_summary": report.empty,
        "reviews_used": report.reviews_used,
        "fallbacks": report.fallbacks,
        "deleted": report.deleted,
        "failed": report.failed,
        "skipped_poison_rows": report.skipped_poison,
        **spend.metadata(),
        "duration_s": round(report.seconds, 2),
    })
