"""The listings asset graph: CSV -> raw_listings -> listing_descriptions -> listing_vectors."""

from typing import Iterator, Optional

from dagster import (
    AssetExecutionContext,
    Backoff,
    Config,
    DagsterError,
    DagsterEventType,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)
from pydantic import Field

from gfl_dagster import settings
from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
from gfl_dagster.db import queries
from gfl_dagster.listings.describe import describe_area, describer_name
from gfl_dagster.listings.model_switch import sync_vectors
from gfl_dagster.listings.load import LoadReport, load_listings_csv
from gfl_dagster.listings.partitions import area_partitions, register_areas
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.embedder import EmbedderResource
from gfl_dagster.resources.from_env import asset_kinds
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster.resources.vector_store import VectorStoreResource
from gfl_dagster.dagster_instance import LLM_POOL
from gfl_dagster.generation.spend import tracked_spend
from gfl_dagster.clients.embedder import configured_model
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.stores import generations

SENSOR_TRIGGER_TAG = "gfl/trigger"  # on the runs the change sensor requests: why it asked ("changes", "pending")
RETRY = RetryPolicy(max_retries=3, delay=2, backoff=Backoff.EXPONENTIAL)
_INTERRUPTIONS = {"DagsterExecutionInterruptedError", "KeyboardInterrupt"}


def not_after_a_stop(context: AssetExecutionContext) -> None:
    """First thing in an asset under RETRY. Dagster retries a step that Ctrl-C or SIGTERM interrupted as if it
    had failed (dagster-io/dagster#15026), so a stopped `gfl sync` or run worker would carry on; a stop is
    meant, so the retry ends the run instead. What the interrupted attempt committed stays committed."""
    try:
        if context.retry_number == 0:
            return
    except (AttributeError, DagsterError):  # invoked directly, outside any run (the fast path)
        return
    step = context.op_execution_context.get_step_execution_context().step.key
    records = context.instance.get_records_for_run(context.run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY,
                                                   limit=1, ascending=False).records
    if not records or records[0].event_log_entry.step_key != step:
        return
    error = records[0].event_log_entry.dagster_event.event_specific_data.error
    while error is not None:
        if error.cls_name in _INTERRUPTIONS:
            raise Failure("stopped by a signal (Ctrl-C or SIGTERM), so not retried: what was written stays, "
                          "the rest stays pending", allow_retries=False)
        error = error.cause or error.context


class LoadConfig(Config):
    csv_path: Optional[str] = Field(default=None, description="Listings file (Inside Airbnb summary or "
                                    "detailed, .csv or .csv.gz); default: GFL_CSV, or on the embedded "
                                    "database data/AB_NYC_2023.csv.")
    limit: Optional[int] = Field(default=None, description="Load only the first N records.")


def source_file(csv_path: Optional[str]) -> str:
    """The CSV to write into `listings`. With DATABASE_URL the table is its owner's: only a file named (here,
    or by GFL_CSV) is loaded into it, never the bundled New York file by default."""
    if csv_path:
        return csv_path
    if settings.is_set(settings.DATABASE_URL) and not settings.is_set(settings.GFL_CSV):
        raise ValueError("raw_listings writes the listings table of DATABASE_URL: name the file to load "
                         "(run config csv_path, or GFL_CSV); the bundled New York file is loaded by default "
                         "only into the embedded database")
    return str(settings.default_csv_path())


def load_metadata(report: LoadReport, new_areas: list[str]) -> dict:
    """What a load of raw_listings records, whether a run or `gfl load` did it."""
    return {
        "source_file": MetadataValue.path(report.source_file),
        "file_kind": "detailed" if report.detailed else "summary",
        "rows_read": report.rows_read,
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
        "areas": ", ".join(report.areas),
        "new_partitions": ", ".join(new_areas) or "none",
        "ignored_columns": ", ".join(report.ignored_columns) or "none",
        "duration_s": round(report.seconds, 2),
    }


@asset(group_name="listings", kinds=asset_kinds("database"))
def raw_listings(context: AssetExecutionContext, config: LoadConfig, database: PostgresResource) -> MaterializeResult:
    """Upserts a listings CSV by id; bad rows go to `listing_rejects` with their line and reason.

    Registers every area found as a partition of the downstream assets.
    """
    report = load_listings_csv(database.engine(), source_file(config.csv_path), config.limit,
                               progress=lambda done, total: context.log.info(f"loaded {done}/{total} rows"))
    context.log.info(report.summary())
    return MaterializeResult(metadata=load_metadata(report, register_areas(context.instance, report.areas)))


def synced_meanwhile(context: AssetExecutionContext, database: PostgresResource) -> bool:
    """True in a run the change sensor requested whose area has nothing pending any more (the fast path, or
    another run, synced it after the tick). Such a run records nothing: a materialization of zeros would become
    the area's latest and hide its last real sync."""
    try:
        if SENSOR_TRIGGER_TAG not in context.run.tags:
            return False  # a run asked for by a person (gfl sync, the UI) always reports what it found
    except (AttributeError, DagsterError):  # invoked directly, outside any run (the fast path)
        return False
    engine, area = database.engine(), context.partition_key
    with engine.connect() as connection:
        pending = connection.execute(queries.PENDING_COUNT_IN_AREA,
                                     {"area": area, "poison_attempts": POISON_AFTER_ATTEMPTS}).scalar_one()
    if pending or (settings.vector_backend() == "pgvector" and area in generations.next_pending_by_area(
            engine, LISTINGS, configured_model(), POISON_AFTER_ATTEMPTS)):
        return False
    context.log.info(f"{area}: nothing pending any more (synced since the sensor's tick); nothing recorded")
    return True


# output_required=False: in a run that was synced meanwhile, no materialization at all, and the rest of the
# run (vectors, ads, their checks) is skipped with it.
@asset(group_name="listings", partitions_def=area_partitions, deps=[raw_listings], retry_policy=RETRY,
       kinds=asset_kinds("database", "chat"), pool=LLM_POOL, output_required=False)
def listing_descriptions(
    context: AssetExecutionContext, database: PostgresResource, model_client: ModelClientResource
) -> Iterator[MaterializeResult]:
    """Generates descriptions only for listings whose facts, model or prompt version changed."""
    not_after_a_stop(context)
    if synced_meanwhile(context, database):
        return
    with tracked_spend(database.engine(), model_client.usage, "listing_descriptions") as spend:
        report = describe_area(database.engine(), model_client, context.partition_key, progress=context.log.info)
    if report.waiting_for_budget:
        context.log.warning(f"{report.waiting_for_budget} listings wait for a description: {report.budget_message}")
    yield MaterializeResult(metadata={
        "model": describer_name(model_client),
        "rows_seen": report.rows_seen,
        "changed": report.changed,
        "generated": report.generated,
        "failed": report.failed,
        "template_fallbacks": report.fallbacks,
        "skipped_poison_rows": report.skipped_poison,
        "waiting_for_budget": report.waiting_for_budget,
        **spend.metadata(),
        "duration_s": round(report.seconds, 2),
    })


# After guest_summaries (reviews/assets.py), named by key: a listing's guest summary is part of its embedding text.
@asset(group_name="listings", partitions_def=area_partitions, deps=[listing_descriptions, "guest_summaries"],
       retry_policy=RETRY,
       kinds=asset_kinds("vector_store", "embeddings"))
def listing_vectors(
    context: AssetExecutionContext,
    database: PostgresResource,
    embedder: EmbedderResource,
    vector_store: VectorStoreResource,
) -> MaterializeResult:
    """Embeds changed listings, updates properties of filterable-only changes, deletes removed ones."""
    not_after_a_stop(context)
    with tracked_spend(database.engine(), embedder.model_client.usage, "listing_vectors") as spend:
        report, generation = sync_vectors(database.engine(), embedder, vector_store, context.partition_key,
                                          progress=context.log.info)
    return MaterializeResult(metadata={
        "vector_store": vector_store.backend,
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
        **spend.metadata(),
        **generation,
        "duration_s": round(report.seconds, 2),
    })
