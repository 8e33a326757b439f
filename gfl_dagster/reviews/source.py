"""Reviews as a source: the table, its key, its partition (its listing's area) and the fields of a review.

Not yet handed to change capture: the shared change-capture SQL is still listings-only. What the core needs
from this spec before it can be (issue 19):
- a partition reached through a foreign key: a review has no area of its own; its partition is its
  listing's (`SELECT area FROM listings WHERE id = reviews.listing_id`), so the spec must be able to say
  "partition of `listing_id` in `listings`" and the core must join, or the table must carry a copy of the area
  kept by a trigger;
- a source whose changes regenerate another source's rows: a new, changed or deleted review regenerates its
  listing's guest summary, so change capture must hand on the set of changed `listing_id`s, not review ids;
- a source with no vectors of its own: reviews reach search through the listing's embedding text, so the
  vector, sync and tombstone tables below are named for the store contract's sake and need not exist.
"""

from __future__ import annotations

from gfl_dagster.spec import Field, SourceSpec

REVIEWS = SourceSpec(
    name="review",
    table="reviews",
    key="id",
    partition="area",  # the reviewed listing's area, through listing_id (see above)
    # Named as in Inside Airbnb's reviews file. The comments are strangers' text, kept as written.
    fields=(
        Field("listing_id", "integer"),
        Field("area", "keyword"),
        Field("date", "date"),
        Field("reviewer_id", "integer"),
        Field("reviewer_name", "text", filterable=False),
        Field("comments", "text", filterable=False),
    ),
    word_fields=("comments",),
    store_key="review_id",
    vector_table="review_vectors",
    sync_table="review_sync",
    tombstone_table="review_tombstones",
    collection="Review",
    layout_version="1",
)
