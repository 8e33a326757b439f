"""The recommendations domain: recommended for you, per bucket of users."""

from dagster import Definitions

from gfl_dagster.recommendations.assets import user_recommendations

defs = Definitions(assets=[user_recommendations])
