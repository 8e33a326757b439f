"""Assembles the code location: assets, checks, jobs, sensors and resources."""

from dagster import Definitions, define_asset_job

from gfl_dagster.assets.listing_descriptions import listing_descriptions
from gfl_dagster.assets.listing_vectors import listing_vectors
from gfl_dagster.assets.raw_listings import raw_listings
from gfl_dagster.checks.listing_checks import (
    descriptions_pass_validation,
    no_stale_vectors,
    vector_count_matches_source,
)
from gfl_dagster.resources.from_env import resources_from_env

sync_area_job = define_asset_job(
    "sync_area",
    selection=["listing_descriptions", "listing_vectors"],
    description="Describe and embed what changed in one area.",
)

defs = Definitions(
    assets=[raw_listings, listing_descriptions, listing_vectors],
    asset_checks=[vector_count_matches_source, no_stale_vectors, descriptions_pass_validation],
    jobs=[sync_area_job],
    resources=resources_from_env(),
)
