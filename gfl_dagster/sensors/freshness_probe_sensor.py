"""Triggers the freshness probe exactly as the change sensor triggers a sync."""

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from gfl_dagster.db import queries
from gfl_dagster.jobs import freshness_probe_job
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.sensors.listing_changes_sensor import SENSOR_INTERVAL_S


@sensor(job=freshness_probe_job, minimum_interval_seconds=SENSOR_INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description="Answers `gfl bench freshness` probes; idle unless a benchmark runs.")
def freshness_probe_sensor(context: SensorEvaluationContext, database: PostgresResource) -> SensorResult:
    after = int(context.cursor or 0)
    with database.engine().connect() as connection:
        probe = connection.execute(queries.NEXT_UNANSWERED_PROBE, {"after": after}).scalar()
    if probe is None:
        return SensorResult(skip_reason=SkipReason("no probe"), cursor=str(after))
    return SensorResult(
        run_requests=[RunRequest(run_key=f"probe-{probe}",
                                 run_config={"ops": {"freshness_probe": {"config": {"up_to": probe}}}})],
        cursor=str(probe),
    )
