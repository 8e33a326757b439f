"""The listings' fast path with the reviews in it: a review's trigger notifies its listing's area on the
listings' channel (db/reviews.sql), and the area's sync summarizes the changed listings' reviews before it
embeds them (the summary is part of the embedding text)."""

from dataclasses import replace

from gfl_dagster.ads.fast_path import LISTINGS_AND_ADS_FAST_PATH
from gfl_dagster.change_capture.fast_path import ListenedSource
from gfl_dagster.listings import describe
from gfl_dagster.listings.assets import listing_descriptions
from gfl_dagster.listings.fast_path import LISTINGS_FAST_PATH
from gfl_dagster.reviews import write_summaries
from gfl_dagster.reviews.assets import guest_summaries
from gfl_dagster.reviews.source import REVIEWS


def with_reviews(source: ListenedSource) -> ListenedSource:
    """`source` watching the reviews too, with the guest summaries right after the descriptions (before the
    vectors, which embed both)."""
    at = source.assets.index(listing_descriptions) + 1
    stage_at = source.stages.index(describe.STAGE) + 1
    return replace(source, watched=source.watched + (REVIEWS,),
                   assets=source.assets[:at] + (guest_summaries,) + source.assets[at:],
                   stages=source.stages[:stage_at] + (write_summaries.STAGE,) + source.stages[stage_at:])


AREA_FAST_PATH = with_reviews(LISTINGS_FAST_PATH)  # what the change sensor watches and locks
LISTEN_FAST_PATH = with_reviews(LISTINGS_AND_ADS_FAST_PATH)  # what `gfl listen` syncs, the ads last
