"""Per-area checks: the store matches the source, nothing is stale, descriptions are valid.

Where they look depends on the run. A run of the sync job (tagged CHECK_SCOPE_TAG: the sensor's runs)
checks only the rows it touched, so a one-row change costs a one-row check and the checks report on
every sync without slowing it; any other run (`gfl sync`, a UI materialization) checks the whole area,
and the nightly reconciliation checks every area (jobs.py logs those evaluations from the same outcomes).
"""

import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    DagsterInstance,
    DagsterRun,
    PreviewWarning,
    RunsFilter,
    asset_check,
    multi_asset_check,
)
from sqlalchemy import Engine

from gfl_dagster.change_capture.drift import Drift, compare_versions
from gfl_dagster.db import queries
from gfl_dagster.listings.describe import known_places
from gfl_dagster.listings.description_check import check_description
from gfl_dagster.listings.partitions import area_partitions
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.resources.vector_store import VectorStoreResource
from gfl_dagster.stores.contract import VectorStore
from gfl_dagster.listings.source import LISTINGS

# Partitioned asset checks are a Dagster preview feature; we rely on them knowingly.
warnings.filterwarnings("ignore", category=PreviewWarning, message=".*partitions_def on an AssetCheckSpec")

# A job whose runs carry this tag gets its checks scoped to the rows each run touched.
CHECK_SCOPE_TAG = "gfl/check_scope"
TOUCHED_ROWS = "touched_rows"
_PARTITION_TAG = "dagster/partition"


@dataclass(frozen=True)
class RunWindow:
    """A sync run's span, on the database's clock (the one its timestamps were written with)."""

    since: datetime  # the area's previous sync started: source changes after it are this run's to carry
    started: datetime  # this run started: store and description writes after it are this run's


@dataclass(frozen=True)
class CheckOutcome:
    """One check's verdict, whether a check step yields it or the reconciliation logs it."""

    check_name: str
    asset: str
    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR

    def result(self) -> AssetCheckResult:
        return AssetCheckResult(check_name=self.check_name, asset_key=self.asset, passed=self.passed,
                                metadata=self.metadata, severity=self.severity)

    def evaluation(self, partition: str) -> AssetCheckEvaluation:
        return AssetCheckEvaluation(asset_key=AssetKey(self.asset), check_name=self.check_name, passed=self.passed,
                                    metadata=self.metadata, severity=self.severity, partition=partition)


def sample_ids(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids[:20]) + (" ..." if len(ids) > 20 else "")


def vector_outcomes(drift: Drift, scope: dict[str, Any]) -> list[CheckOutcome]:
    """Both vector checks from one comparison; `scope` says what was compared (metadata of both)."""
    return [
        CheckOutcome("vector_count_matches_source", "listing_vectors", not drift.missing and not drift.extra,
                     {**scope, "missing": len(drift.missing), "extra": len(drift.extra),
                      "missing_ids": sample_ids(drift.missing), "extra_ids": sample_ids(drift.extra)}),
        CheckOutcome("no_stale_vectors", "listing_vectors", not drift.stale,
                     {**scope, "stale": len(drift.stale), "stale_ids": sample_ids(drift.stale)}),
    ]


def description_outcome(rows: list, areas: list[str], places: list[str], scope: dict[str, Any]) -> CheckOutcome:
    invalid = {row["listing_id"]: "; ".join(problems) for row in rows
               if (problems := check_description(row["description"], row, areas, places))}
    return CheckOutcome("descriptions_pass_validation", "listing_descriptions", not invalid, {
        **scope, "checked": len(rows), "invalid": len(invalid),
        "examples": "\n".join(f"{k}: {v}" for k, v in list(invalid.items())[:10]) or "none"})


def area_drift(database: PostgresResource, vector_store: VectorStoreResource, area: str) -> Drift:
    """Source and store versions of one area, each read once."""
    with database.engine().connect() as connection:
        source = {r.id: r.version for r in connection.execute(queries.SOURCE_VERSIONS_IN_AREA, {"area": area})}
    with vector_store.session(LISTINGS) as store:
        return compare_versions(source, store.versions(area))


def touched_drift(engine: Engine, store: VectorStore, area: str, window: RunWindow) -> tuple[Drift, dict[str, Any]]:
    """Source and store compared on the rows a run touched only; and the scope, as metadata."""
    with engine.connect() as connection:
        rows = connection.execute(queries.CHECK_TOUCHED_ROWS, {
            "area": area, "since": window.since, "started": window.started}).all()
    settled = [row for row in rows if row.settled]
    source = {row.id: row.version for row in settled if row.version is not None}
    # One read per listing: the store contract has no batch read of given ids (store.versions reads an area).
    stored = {row.id: vector.version for row in settled if (vector := store.get(row.id)) is not None}
    return compare_versions(source, stored), {
        "scope": "rows this run touched", "checked": len(settled),
        "changed_during_run": len(rows) - len(settled)}


def run_window(instance: DagsterInstance, run: DagsterRun, area: str, database_now: datetime) -> RunWindow:
    """This run's span from Dagster's run records, shifted from the worker's clock onto the database's."""
    offset_s = database_now.timestamp() - time.time()
    own = instance.get_run_record_by_id(run.run_id)
    if own is None:
        raise RuntimeError(f"run {run.run_id} has no run record: cannot tell which rows it touched")
    started_s = own.start_time or own.create_timestamp.timestamp()
    previous = instance.get_run_records(RunsFilter(job_name=run.job_name, tags={_PARTITION_TAG: area},
                                                   created_before=own.create_timestamp), limit=1)
    since_s = previous[0].start_time if previous and previous[0].start_time else started_s

    def on_database_clock(seconds: float) -> datetime:
        return datetime.fromtimestamp(seconds + offset_s, timezone.utc)

    return RunWindow(since=on_database_clock(min(since_s, started_s)), started=on_database_clock(started_s))


def _touched_window(context: AssetCheckExecutionContext, engine: Engine) -> Optional[RunWindow]:
    if context.run.tags.get(CHECK_SCOPE_TAG) != TOUCHED_ROWS:
        return None
    with engine.connect() as connection:
        database_now = connection.execute(queries.DATABASE_CLOCK).scalar_one()
    return run_window(context.instance, context.run, context.partition_key, database_now)


@multi_asset_check(
    specs=[
        AssetCheckSpec("vector_count_matches_source", asset="listing_vectors", partitions_def=area_partitions,
                       description="The vector store holds exactly the area's source listings."),
        AssetCheckSpec("no_stale_vectors", asset="listing_vectors", partitions_def=area_partitions,
                       description="No listing is stored at an older version than its source row."),
    ],
)
def vectors_match_source(
    context: AssetCheckExecutionContext, database: PostgresResource, vector_store: VectorStoreResource
) -> Iterator[AssetCheckResult]:
    """Both drift checks from one read of the scope in the source and in the store."""
    area = context.partition_key
    window = _touched_window(context, database.engine())
    if window is None:
        drift, scope = area_drift(database, vector_store, area), {"scope": "whole area"}
    else:
        with vector_store.session(LISTINGS) as store:
            drift, scope = touched_drift(database.engine(), store, area, window)
    for outcome in vector_outcomes(drift, scope):
        yield outcome.result()


# After listing_vectors, though it reads only descriptions: in a sync run it then never delays the
# vectors, which is when a change becomes searchable.
@asset_check(asset="listing_descriptions", partitions_def=area_partitions, additional_deps=["listing_vectors"],
             description="Every stored description passes validation against its listing's facts.")
def descriptions_pass_validation(context: AssetCheckExecutionContext, database: PostgresResource) -> AssetCheckResult:
    area = context.partition_key
    window = _touched_window(context, database.engine())
    with database.engine().connect() as connection:
        if window is None:
            rows = connection.execute(queries.DESCRIPTIONS_IN_AREA, {"area": area}).mappings().all()
            scope = {"scope": "whole area"}
        else:
            rows = connection.execute(queries.DESCRIPTIONS_WRITTEN_SINCE,
                                      {"area": area, "started": window.started}).mappings().all()
            scope = {"scope": "descriptions this run wrote"}
        # The place names scan the listings table: read only when there is a description to check.
        areas, places = known_places(connection) if rows else ([], [])
    return description_outcome(rows, areas, places, scope).result()
