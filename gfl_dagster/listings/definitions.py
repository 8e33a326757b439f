"""The listings domain: CSV rows -> descriptions -> vectors, kept in sync by the change sensor (which the reviews
domain builds: an area's sync carries both sources, reviews/sensors.py)."""

from dagster import Definitions

from gfl_dagster.listings.assets import listing_descriptions, listing_vectors, raw_listings
from gfl_dagster.listings.checks import descriptions_pass_validation, vectors_match_source
from gfl_dagster.listings.jobs import reconcile_job, sync_area_job
from gfl_dagster.listings.schedules import reconcile_nightly

defs = Definitions(
    assets=[raw_listings, listing_descriptions, listing_vectors],
    asset_checks=[vectors_match_source, descriptions_pass_validation],
    jobs=[sync_area_job, reconcile_job],
    schedules=[reconcile_nightly],
)
