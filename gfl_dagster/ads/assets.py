"""listing_ads: ad copy per listing and audience, from each listing's facts and stored description."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from gfl_dagster.ads.write_ads import generator_name, write_ads
from gfl_dagster.listings.assets import RETRY, not_after_a_stop
from gfl_dagster.listings.partitions import area_partitions
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.from_env import asset_kinds
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster.dagster_instance import LLM_POOL
from gfl_dagster.generation.spend import tracked_spend


# After listing_vectors too: a change is searchable before its ads are rewritten.
@asset(group_name="ads", partitions_def=area_partitions,
       deps=["listing_descriptions", "listing_vectors", "feedback_events"],
       retry_policy=RETRY, kinds=asset_kinds("database", "chat"), pool=LLM_POOL)
def listing_ads(context: AssetExecutionContext, database: PostgresResource,
                model_client: ModelClientResource) -> MaterializeResult:
    """Writes ads only where the listing, its description or the audience changed, and replaces the
    weakest variant once clicks have judged it (the reason and the example ads are recorded)."""
    not_after_a_stop(context)
    with tracked_spend(database.engine(), model_client.usage, "listing_ads") as spend:
        report = write_ads(database.engine(), model_client, context.partition_key, progress=context.log.info)
    for line in report.retirements:
        context.log.info(line)
    return MaterializeResult(metadata={
        "model": generator_name(model_client),
        "listings_seen": report.listings_seen,
        "generated": report.generated,
        "reused": report.reused,
        "retired": report.retired,
        "template_fallbacks": report.fallbacks,
        "failed": report.failed,
        "retired_by_clicks": MetadataValue.md("\n".join(f"- {line}" for line in report.retirements) or "none"),
        "best_smoothed_ctr_by_audience": report.best_ctr,
        "best_angle_by_audience": report.best_angle,
        **spend.metadata(),
        "duration_s": round(report.seconds, 2),
    })
