"""listing_descriptions: an AI (or template) description per listing of an area."""

from dagster import AssetExecutionContext, Backoff, MaterializeResult, RetryPolicy, asset

from gfl_dagster.partitions import area_partitions
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.describer import DescriberResource
from gfl_dagster.sync.describe_area import describe_area


@asset(
    group_name="listings",
    partitions_def=area_partitions,
    deps=["raw_listings"],
    retry_policy=RetryPolicy(max_retries=3, delay=2, backoff=Backoff.EXPONENTIAL),
    kinds={"openai", "postgres"},
)
def listing_descriptions(
    context: AssetExecutionContext, database: PostgresResource, describer: DescriberResource
) -> MaterializeResult:
    """Generates descriptions only for listings whose facts, model or prompt version changed."""
    report = describe_area(database.engine(), describer, context.partition_key, progress=context.log.info)
    return MaterializeResult(metadata={
        "model": describer.model_name,
        "rows_seen": report.rows_seen,
        "changed": report.changed,
        "generated": report.generated,
        "failed": report.failed,
        "skipped_poison_rows": report.skipped_poison,
        "llm_prompt_tokens": report.prompt_tokens,
        "llm_completion_tokens": report.completion_tokens,
        "duration_s": round(report.seconds, 2),
    })
