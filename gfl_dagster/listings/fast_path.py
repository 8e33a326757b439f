"""What the fast path (change_capture/fast_path.py) listens for on listings: their channel, and the assets
that make a changed area searchable, in their order (the ads extend it: ads/fast_path.py)."""

from __future__ import annotations

from gfl_dagster.change_capture.fast_path import ListenedSource
from gfl_dagster.db import queries
from gfl_dagster.listings import describe, embed
from gfl_dagster.listings.assets import listing_descriptions, listing_vectors
from gfl_dagster.listings.partitions import register_areas
from gfl_dagster.listings.source import LISTINGS

LISTINGS_FAST_PATH = ListenedSource(
    channel=queries.LISTING_CHANGES_CHANNEL,
    watched=(LISTINGS,),
    assets=(listing_descriptions, listing_vectors),  # vectors embed the descriptions
    stages=(describe.STAGE, embed.STAGE),
    pending_count=queries.PENDING_COUNT_IN_AREA,
    register_areas=register_areas,
    noun="listings",
)
