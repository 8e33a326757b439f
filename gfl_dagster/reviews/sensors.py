"""The change sensor of an area's sync, listings and reviews together: either source's watermark names the
area, and one run carries both (descriptions, guest summaries, vectors, ads)."""

from gfl_dagster.listings.sensors import area_changes_sensor
from gfl_dagster.reviews.fast_path import AREA_FAST_PATH

listing_changes_sensor = area_changes_sensor(AREA_FAST_PATH)
