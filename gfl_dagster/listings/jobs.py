"""Jobs: the per-area sync the sensor launches, and the nightly reconciliation."""

from dagster import (
    AssetObservation,
    AssetSelection,
    OpExecutionContext,
    define_asset_job,
    in_process_executor,
    job,
    op,
)

from gfl_dagster.listings.reconcile import reconcile
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.vector_store import VectorStoreResource

# In-process: a run is one area's two steps; a subprocess per step would add
# seconds of start-up to every change's freshness.
sync_area_job = define_asset_job(
    "sync_area",
    # Without the area-wide checks: a one-row change should cost one row. The checks
    # run with `gfl sync`, UI materializations, and the nightly reconciliation repairs drift.
    selection=AssetSelection.assets("listing_descriptions", "listing_vectors", "listing_ads").without_checks(),
    executor_def=in_process_executor,
    description="Describe, embed and advertise what changed in one area.",
)


@op
def reconcile_vector_store(
    context: OpExecutionContext, database: PostgresResource, vector_store: VectorStoreResource
) -> None:
    """Compares source and vector store per area and repairs any drift (the sensor re-syncs it)."""
    with vector_store.session() as store:
        report = reconcile(database.engine(), store)
    context.log.info(report.summary())
    # Recorded on listing_vectors, so the repair shows in the asset's history.
    context.log_event(AssetObservation(asset_key="listing_vectors", metadata={
        "reconciled_areas": report.areas, "repaired_missing": report.missing, "repaired_stale": report.stale,
        "repaired_extra": report.extra, "poison_rows_retried": report.poison_retried,
        "repaired_in": ", ".join(report.repaired_areas) or "none",
    }))


@job(executor_def=in_process_executor, description="Nightly: compare source and vector store, repair drift.")
def reconcile_job():
    reconcile_vector_store()
