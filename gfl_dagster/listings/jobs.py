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

from gfl_dagster.db import queries
from gfl_dagster.listings.checks import (
    CHECK_SCOPE_TAG,
    TOUCHED_ROWS,
    CheckOutcome,
    description_outcome,
    vector_outcomes,
)
from gfl_dagster.listings.describe import known_places
from gfl_dagster.listings.reconcile import ReconcileReport, reconcile
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.vector_store import VectorStoreResource
from gfl_dagster.listings.source import LISTINGS

# In-process: a run is one area's steps; a subprocess per step would add
# seconds of start-up to every change's freshness.
sync_area_job = define_asset_job(
    "sync_area",
    # With the checks, scoped by the tag to the rows each run touched: a one-row change costs a
    # one-row check, and the UI shows the checks evaluated on every sync.
    selection=AssetSelection.assets("listing_descriptions", "guest_summaries", "listing_vectors", "listing_ads"),
    executor_def=in_process_executor,
    tags={CHECK_SCOPE_TAG: TOUCHED_ROWS},
    description="Describe, summarize guests' reviews, embed and advertise what changed in one area, and check "
                "what it touched.",
)


def nightly_outcomes(database: PostgresResource, report: ReconcileReport) -> dict[str, list[CheckOutcome]]:
    """Every check over every area: the drift the reconciliation found, and all stored descriptions."""
    scope = {"scope": "whole area (nightly reconciliation)"}
    outcomes = {}
    with database.engine().connect() as connection:
        areas, places = known_places(connection)
        for area, drift in report.drifts.items():
            # Drift is reported as found; `repaired`: its progress was forgotten, the sensor's next run rewrites it.
            rows = connection.execute(queries.DESCRIPTIONS_IN_AREA, {"area": area}).mappings().all()
            outcomes[area] = (vector_outcomes(drift, {**scope, "repaired": not drift.clean})
                              + [description_outcome(rows, areas, places, scope)])
    return outcomes


@op
def reconcile_vector_store(
    context: OpExecutionContext, database: PostgresResource, vector_store: VectorStoreResource
) -> None:
    """Compares source and vector store per area, repairs any drift (the sensor re-syncs it) and
    records every area's checks."""
    with vector_store.session(LISTINGS) as store:
        report = reconcile(database.engine(), store)
    context.log.info(report.summary())
    # Recorded on listing_vectors, so the repair shows in the asset's history.
    context.log_event(AssetObservation(asset_key="listing_vectors", metadata={
        "reconciled_areas": report.areas, "repaired_missing": report.missing, "repaired_stale": report.stale,
        "repaired_extra": report.extra, "poison_rows_retried": report.poison_retried,
        "repaired_in": ", ".join(report.repaired_areas) or "none",
    }))
    for area, outcomes in nightly_outcomes(database, report).items():
        for outcome in outcomes:
            context.log_event(outcome.evaluation(partition=area))


@job(executor_def=in_process_executor,
     description="Nightly: compare source and vector store, repair drift, evaluate every area's checks.")
def reconcile_job():
    reconcile_vector_store()
