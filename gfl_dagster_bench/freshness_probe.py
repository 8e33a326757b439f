"""Dagster's own floor, for `gfl bench freshness`: an empty asset triggered exactly as the change sensor
triggers a sync (a sensor polling a table, a run per request).

Loaded only by the benchmark's daemon (`gfl_dagster_bench/definitions.py`), never by a user's `gfl up`.
"""

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    Config,
    DefaultSensorStatus,
    MaterializeResult,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    asset,
    define_asset_job,
    in_process_executor,
    sensor,
)

from gfl_dagster.db import queries
from gfl_dagster.listings.sensors import SENSOR_INTERVAL_S
from gfl_dagster.resources.database import PostgresResource


class ProbeConfig(Config):
    up_to: int = 0


@asset(group_name="diagnostics", kinds={"postgres"})
def freshness_probe(context: AssetExecutionContext, config: ProbeConfig, database: PostgresResource) -> MaterializeResult:
    """Marks probes answered; `gfl bench freshness` compares this with the sync's latency."""
    with database.engine().begin() as connection:
        answered = connection.execute(queries.ANSWER_PROBES, {"up_to": config.up_to}).rowcount
    return MaterializeResult(metadata={"answered": answered})


freshness_probe_job = define_asset_job(
    "freshness_probe_job",
    selection=AssetSelection.assets(freshness_probe),
    executor_def=in_process_executor,
    description="Answers a freshness probe: measures Dagster's own trigger-to-run floor.",
)


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
