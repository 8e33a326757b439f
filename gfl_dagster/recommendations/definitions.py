"""The recommendations domain: recommended for you, per bucket of users, and the co-bookings they draw on."""

from dagster import Definitions

from gfl_dagster.recommendations.assets import listing_co_bookings, user_recommendations

defs = Definitions(assets=[listing_co_bookings, user_recommendations])
