"""Assembles the code location: each domain's definitions, and the resources the environment configures."""

from dagster import Definitions

from gfl_dagster.listings import definitions as listings
from gfl_dagster.resources.from_env import resources_from_env

defs = Definitions.merge(listings.defs, Definitions(resources=resources_from_env()))
