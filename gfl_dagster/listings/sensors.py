"""Change capture: every daemon loop (~5 s), one sync run per area with rows pending at tick time."""

import time

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from sqlalchemy import TextClause

from gfl_dagster import settings
from gfl_dagster.clients.embedder import configured_model
from gfl_dagster.db import queries
from gfl_dagster.listings.assets import SENSOR_TRIGGER_TAG
from gfl_dagster.listings.jobs import sync_area_job
from gfl_dagster.listings.partitions import area_partitions
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.change_capture.change_feed import FeedCursor, lag_message, plan_tick, should_sweep, wanted_areas
from gfl_dagster.change_capture.fast_path import ListenedSource, run_holds
from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
from gfl_dagster.change_capture.run_liveness import live_runs
from gfl_dagster.stores import generations

SENSOR_INTERVAL_S = settings.sensor_interval_s()
_ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
           DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def busy_areas(instance) -> set[str]:
    runs = live_runs(instance, instance.get_runs(filters=RunsFilter(job_name=sync_area_job.name, statuses=_ACTIVE)))
    return {run.tags.get("dagster/partition") for run in runs} - {None}


def area_changes_sensor(source: ListenedSource) -> SensorDefinition:
    """The change sensor of the area sync `source` describes (what it watches, what its runs lock): the
    domain that completes the area's sync builds it (reviews/sensors.py), so listings need not name reviews."""
    changed_areas = queries.changed_areas(*source.watched)

    @sensor(
        name="listing_changes_sensor",
        job=sync_area_job,
        minimum_interval_seconds=SENSOR_INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description="Every daemon loop (~5 s): the transaction-id watermark finds changed areas ("
                    + ", ".join(spec.table for spec in source.watched) + "), and one run is requested per "
                    "area with rows still pending (what the fast path synced asks for none).",
    )
    def listing_changes_sensor(context: SensorEvaluationContext, database: PostgresResource) -> SensorResult:
        return _tick(context, database, source, changed_areas)

    return listing_changes_sensor


def _tick(context: SensorEvaluationContext, database: PostgresResource, source: ListenedSource,
          changed_areas: TextClause) -> SensorResult:
    cursor = FeedCursor.parse(context.cursor)
    now = time.time()
    sweep = should_sweep(cursor, now)
    with database.engine().connect() as connection:
        horizon = connection.execute(queries.WATERMARK_HORIZON).scalar_one()
        changed = {row.area: row.changes for row in connection.execute(
            changed_areas, {"since": cursor.horizon, "horizon": horizon})}
        # What is pending now decides, not what changed: the fast path syncs most changes before this tick.
        look = sweep or bool(changed) or bool(cursor.deferred)
        pending = {row.area: (row.pending, float(row.oldest_s or 0.0)) for row in connection.execute(
            queries.PENDING_BY_AREA, {"poison_attempts": POISON_AFTER_ATTEMPTS})} if look else {}
        open_transaction_s = connection.execute(queries.OLDEST_OPEN_TRANSACTION_S).scalar()
    if look and settings.vector_backend() == "pgvector":  # an embedding-model change: the next generation's work
        building = generations.next_pending_by_area(database.engine(), LISTINGS, configured_model(),
                                                    POISON_AFTER_ATTEMPTS)
        pending = {**building, **pending}
    wanted = wanted_areas(changed, pending, cursor.deferred, sweep)
    # An area whose locks are held is being synced (the fast path, or a run Dagster does not list yet).
    working = {area for area in wanted if run_holds(database.engine(), source, area)}
    plan = plan_tick(wanted, busy_areas(context.instance) | working)
    next_cursor = FeedCursor(horizon=horizon, deferred=plan.deferred, swept_at=now if sweep else cursor.swept_at,
                             tick=cursor.tick + 1)

    synced_already = sorted(set(changed) - set(pending))
    message = (f"watermark xid {horizon}; new changes: "
               + (", ".join(f"{area} {count}" for area, count in sorted(changed.items())) or "none") + "; "
               + (f"already synced (the fast path): {', '.join(synced_already)}; " if synced_already else "")
               + (lag_message(pending, open_transaction_s) if look else
                  lag_message({}, open_transaction_s).replace("nothing pending", "no sweep this tick"))
               + (f"; waiting for running syncs: {', '.join(plan.deferred)}" if plan.deferred else ""))
    if not plan.run_areas:
        return SensorResult(skip_reason=SkipReason(message), cursor=next_cursor.dump())
    context.log.info(message)
    known = set(context.instance.get_dynamic_partitions(area_partitions.name))
    new_areas = [area for area in plan.run_areas if area not in known]
    return SensorResult(
        run_requests=[RunRequest(partition_key=area, run_key=f"{area}@{horizon}#{next_cursor.tick}",
                                 tags={SENSOR_TRIGGER_TAG: "changes" if area in changed else "pending"})
                      for area in plan.run_areas],
        dynamic_partitions_requests=[area_partitions.build_add_request(new_areas)] if new_areas else [],
        cursor=next_cursor.dump(),
    )
