"""Assembles the code location: assets, checks, jobs, sensors, schedules and resources."""

import warnings

from dagster import Definitions, PreviewWarning

from gfl_dagster.assets.freshness_probe import freshness_probe
from gfl_dagster.assets.listing_descriptions import listing_descriptions
from gfl_dagster.assets.listing_vectors import listing_vectors
from gfl_dagster.assets.raw_listings import raw_listings
from gfl_dagster.jobs import freshness_probe_job, reconcile_job, sync_area_job
from gfl_dagster.resources.from_env import resources_from_env
from gfl_dagster.schedules import reconcile_nightly
from gfl_dagster.sensors.freshness_probe_sensor import freshness_probe_sensor
from gfl_dagster.sensors.listing_changes_sensor import listing_changes_sensor

# Partitioned asset checks are a Dagster preview feature; we rely on them knowingly.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", PreviewWarning)
    from gfl_dagster.checks.listing_checks import (
        descriptions_pass_validation,
        no_stale_vectors,
        vector_count_matches_source,
    )

defs = Definitions(
    assets=[raw_listings, listing_descriptions, listing_vectors, freshness_probe],
    asset_checks=[vector_count_matches_source, no_stale_vectors, descriptions_pass_validation],
    jobs=[sync_area_job, reconcile_job, freshness_probe_job],
    sensors=[listing_changes_sensor, freshness_probe_sensor],
    schedules=[reconcile_nightly],
    resources=resources_from_env(),
)
