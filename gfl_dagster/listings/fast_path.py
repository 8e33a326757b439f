"""What the fast path (change_capture/fast_path.py) listens for on listings: their channel, and the three
assets a `sync_area` run materializes for a changed area, in its order."""

from __future__ import annotations

from gfl_dagster.ads import write_ads
from gfl_dagster.ads.assets import listing_ads
from gfl_dagster.change_capture.fast_path import ListenedSource
from gfl_dagster.db import queries
from gfl_dagster.listings import describe, embed
from gfl_dagster.listings.assets import listing_descriptions, listing_vectors
from gfl_dagster.listings.partitions import register_areas

LISTINGS_FAST_PATH = ListenedSource(
    channel=queries.LISTING_CHANGES_CHANNEL,
    # Vectors embed the descriptions; the ads follow, so search never waits for them and no run is left to do.
    assets=(listing_descriptions, listing_vectors, listing_ads),
    stages=(describe.STAGE, embed.STAGE, write_ads.STAGE),
    pending_count=queries.PENDING_COUNT_IN_AREA,
    register_areas=register_areas,
    noun="listings",
)
