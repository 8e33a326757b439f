"""The feedback domain: the events people produce, and the sensor that feeds them back into the loop."""

from dagster import Definitions

from gfl_dagster.feedback.assets import feedback_events
from gfl_dagster.feedback.sensors import (
    feedback_sensor,
    refine_ads_job,
    refresh_co_bookings_job,
    refresh_recommendations_job,
)

defs = Definitions(assets=[feedback_events], jobs=[refresh_recommendations_job, refine_ads_job, refresh_co_bookings_job],
                   sensors=[feedback_sensor])
