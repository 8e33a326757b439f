"""Reviews as a source: the table, its key, its partition (its listing's area) and the fields of a review.

How the core takes it (issue 19):
- change capture: db/reviews.sql gives the table schema.sql's trigger functions of a source (version,
  change_xid, tombstones in `tombstone_table`, its area notified on the listings' channel), and the watermark
  reads it by this spec (db/queries.changed_areas);
- the partition is reached through a foreign key: a review's `area` is its listing's, copied by a trigger on
  every write (a listing that later moves keeps its reviews' old area until they are written again);
- its changes regenerate another source's rows: a changed review makes its listing's guest summary stale
  (reviews/write_summaries.py), and the summary reaches search in that listing's vector;
- it has no vectors of its own: the vector and sync tables below are named for the store contract's sake and
  do not exist.
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
