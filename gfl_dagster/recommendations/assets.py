"""user_recommendations: "recommended for you", per bucket of users, from their events, the listing vectors and
listing_co_bookings: which listings the same guests booked, rebuilt from every trusted booking."""

from dagster import (
    AllPartitionMapping,
    AssetDep,
    AssetExecutionContext,
    MaterializeResult,
    StaticPartitionsDefinition,
    asset,
)

from gfl_dagster.listings.assets import RETRY, not_after_a_stop
from gfl_dagster.recommendations.co_bookings import rebuild_co_bookings
from gfl_dagster.recommendations.refresh import refresh_bucket
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.from_env import asset_kinds
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster.resources.vector_store import VectorStoreResource
from gfl_dagster.dagster_instance import LLM_POOL
from gfl_dagster.generation.spend import tracked_spend
from gfl_dagster.listings.source import LISTINGS

# gfl_user_bucket() in schema.sql decides a user's bucket; a refresh reads its bucket's users only.
user_buckets = StaticPartitionsDefinition([f"users-{n:02d}" for n in range(16)])


@asset(group_name="recommendations", retry_policy=RETRY, deps=["feedback_events"], kinds=asset_kinds("database"))
def listing_co_bookings(context: AssetExecutionContext, database: PostgresResource) -> MaterializeResult:
    """Guests who booked this listing also booked: rebuilt whole from the trusted bookings. The feedback sensor
    asks for it when newer bookings arrived and the last build is a few minutes old; `gfl sync` on each run."""
    not_after_a_stop(context)
    built = rebuild_co_bookings(database.engine())
    return MaterializeResult(metadata={"guests": built.guests, "pairs": built.pairs,
                                       "newest_booking": built.source_event_id, "duration_s": round(built.seconds, 2)})


@asset(group_name="recommendations", partitions_def=user_buckets, retry_policy=RETRY,
       deps=["feedback_events", "listing_co_bookings",
             AssetDep("listing_vectors", partition_mapping=AllPartitionMapping())],
       kinds=asset_kinds("database", "chat"), pool=LLM_POOL)
def user_recommendations(context: AssetExecutionContext, database: PostgresResource,
                         vector_store: VectorStoreResource, model_client: ModelClientResource) -> MaterializeResult:
    """Refreshes only the users of this bucket with events newer than their stored recommendation."""
    not_after_a_stop(context)
    with tracked_spend(database.engine(), model_client.usage, "user_recommendations") as spend, \
            vector_store.session(LISTINGS) as store:
        report = refresh_bucket(database.engine(), store, model_client, context.partition_key,
                                progress=context.log.info)
    return MaterializeResult(metadata={
        "users_with_new_events": report.users,
        "refreshed": report.refreshed,
        "template_fallbacks": report.fallbacks,
        "users_left_without": report.left_without,
        **spend.metadata(),
        "users": ", ".join(report.users_refreshed[:20]) or "none",
        "duration_s": round(report.seconds, 2),
    })
