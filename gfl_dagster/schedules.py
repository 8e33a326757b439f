"""Schedules: nightly reconciliation of source and vector store."""

import os

from dagster import DefaultScheduleStatus, ScheduleDefinition

from gfl_dagster.jobs import reconcile_job

reconcile_nightly = ScheduleDefinition(
    name="reconcile_nightly",
    job=reconcile_job,
    cron_schedule=os.environ.get("GFL_RECONCILE_CRON", "0 3 * * *"),
    default_status=DefaultScheduleStatus.RUNNING,
    description="Compares every area's source rows with the vector store and repairs drift.",
)
