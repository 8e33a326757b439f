"""listing_vectors: each listing's description and attributes, embedded, in the vector store."""

from dagster import AssetExecutionContext, Backoff, MaterializeResult, RetryPolicy, asset

from gfl_dagster.partitions import area_partitions
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.embedder import EmbedderResource
from gfl_dagster.resources.vector_store import VectorStoreResource
from gfl_dagster.sync.embed_area import embed_area


@asset(
    group_name="listings",
    partitions_def=area_partitions,
    deps=["listing_descriptions"],
    retry_policy=RetryPolicy(max_retries=3, delay=2, backoff=Backoff.EXPONENTIAL),
    kinds={"pgvector", "weaviate"},
)
def listing_vectors(
    context: AssetExecutionContext,
    database: PostgresResource,
    embedder: EmbedderResource,
    vector_store: VectorStoreResource,
) -> MaterializeResult:
    """Embeds changed listings, updates properties of filterable-only changes, deletes removed ones."""
    store = vector_store.open()
    try:
        report = embed_area(database.engine(), embedder, store, context.partition_key, progress=context.log.info)
    finally:
        store.close()
    return MaterializeResult(metadata={
        "vector_store": store.name,
        "embedding_model": embedder.model_name,
        "rows_seen": report.rows_seen,
        "embedded": report.embedded,
        "properties_updated": report.properties_updated,
        "deleted": report.deleted,
        "unchanged": report.unchanged,
        "failed": report.failed,
        "max_change_age_s": round(report.max_change_age_s, 2),
        "oldest_pending_s": round(report.oldest_pending_s, 2),
        "embed_duration_s": round(report.embed_seconds, 2),
        "duration_s": round(report.seconds, 2),
    })
