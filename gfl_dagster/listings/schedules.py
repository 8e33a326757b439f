"""Schedules: nightly reconciliation of source and vector store."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from gfl_dagster import settings
from gfl_dagster.listings.jobs import reconcile_job

reconcile_nightly = ScheduleDefinition(
    name="reconcile_nightly",
    job=reconcile_job,
    cron_schedule=settings.reconcile_cron(),
    default_status=DefaultScheduleStatus.RUNNING,
    description="Compares every area's source rows with the vector store and repairs drift.",
)
