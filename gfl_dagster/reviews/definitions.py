"""The reviews domain: a reviews file -> `reviews` -> guest summaries, in each listing's vector; and the change
sensor of the area sync that carries both sources."""

from dagster import Definitions

from gfl_dagster.reviews.assets import guest_summaries, reviews
from gfl_dagster.reviews.checks import summaries_follow_reviews
from gfl_dagster.reviews.sensors import listing_changes_sensor

defs = Definitions(assets=[reviews, guest_summaries], sensors=[listing_changes_sensor],
                   asset_checks=[summaries_follow_reviews])
