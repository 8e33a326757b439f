"""What people did, fed back: new events refresh their users' recommendations and let clicked ads learn."""

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    in_process_executor,
    sensor,
)

from gfl_dagster.db import queries
from gfl_dagster.listings.sensors import SENSOR_INTERVAL_S
from gfl_dagster.resources.database import PostgresResource
from gfl_dagster.search import recommendation as advice
from gfl_dagster.change_capture.run_liveness import live_runs

# A rebuild reads every booking: under `gfl up` at most this often. A user's own booking is in their next
# refresh at once (it is one of their listings); it joins everyone's co-bookings with the next rebuild.
CO_BOOKINGS_MIN_AGE_S = 300

refresh_recommendations_job = define_asset_job(
    "refresh_recommendations", selection=["user_recommendations"], executor_def=in_process_executor, description="Recommended for you, for the users of one bucket with new events.")
refresh_co_bookings_job = define_asset_job(
    "refresh_co_bookings", selection=["listing_co_bookings"], executor_def=in_process_executor,
    description="Which listings the same guests booked, rebuilt from every trusted booking.")
refine_ads_job = define_asset_job(
    "refine_ads", selection=["listing_ads"], executor_def=in_process_executor,
    description="Ads of one area: replace the variants clicks have judged weakest.")


@sensor(jobs=[refresh_recommendations_job, refine_ads_job, refresh_co_bookings_job],
        minimum_interval_seconds=SENSOR_INTERVAL_S, default_status=DefaultSensorStatus.RUNNING,
        description="Polls feedback_events past its cursor: one run per user bucket and per area of a shown ad, "
                    "and the co-bookings' rebuild when newer bookings arrived.")
def feedback_sensor(context: SensorEvaluationContext, database: PostgresResource) -> SensorResult:
    after = int(context.cursor or 0)
    with database.engine().connect() as connection:
        row = connection.execute(queries.NEW_EVENTS, {"after": after}).one()
        # A listing that changed or went away, or a new prompt: the recommendations concerned are refreshed too.
        stale = {r.bucket for r in connection.execute(queries.STALE_RECOMMENDATION_BUCKETS,
                                                      {"prompt_version": advice.RECOMMENDATION_PROMPT_VERSION})}
        co_bookings = connection.execute(queries.CO_BOOKINGS_DUE, {"min_age_s": CO_BOOKINGS_MIN_AGE_S}).scalar()
    busy = busy_buckets(context.instance)
    buckets = (set(row.buckets or []) | stale) - busy
    co_requests = [RunRequest(job_name=refresh_co_bookings_job.name, run_key=f"co-bookings@{co_bookings}")
                   ] if co_bookings is not None else []
    if row.newest is None and not buckets and not co_requests:
        return SensorResult(skip_reason=SkipReason(f"no events after #{after}, no stale recommendation"),
                            cursor=str(after))
    newest = row.newest or after
    requests = [RunRequest(job_name=refresh_recommendations_job.name, partition_key=bucket,
                           run_key=f"{bucket}@{newest}#{context.cursor}") for bucket in sorted(buckets)]
    requests += [RunRequest(job_name=refine_ads_job.name, partition_key=area, run_key=f"ads:{area}@{row.newest}")
                 for area in sorted(row.ad_areas or [])]
    requests += co_requests
    context.log.info(f"events up to #{newest}: {len(buckets)} user buckets ({len(stale)} for changed listings), "
                     f"{len(row.ad_areas or [])} ad areas")
    return SensorResult(run_requests=requests, cursor=str(newest))


def busy_buckets(instance) -> set[str]:
    """Buckets whose refresh is still queued or running: asked again once it ends, never twice at once."""
    runs = instance.get_runs(filters=RunsFilter(job_name=refresh_recommendations_job.name,
                                                statuses=[DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED,
                                                          DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]))
    return {run.tags.get("dagster/partition") for run in live_runs(instance, runs)} - {None}
