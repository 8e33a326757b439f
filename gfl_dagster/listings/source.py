"""Listings as a source: the table, its key and partition, and the fields each listing's vector carries.

The shared machinery (stores, search filters, checks) reads everything it knows of listings from here.
"""

from __future__ import annotations

from gfl_dagster.spec import Field, SourceSpec

LISTINGS = SourceSpec(
    name="listing",
    table="listings",
    key="id",
    partition="area",  # gfl_area(neighbourhood_group, neighbourhood), generated in db/schema.sql
    # Named as in the CSV; `description` and `guest_summary` are generated texts, added by the sync.
    fields=(
        Field("name", "text"),
        Field("description", "text", filterable=False),
        Field("guest_summary", "text", filterable=False),  # what guests say (reviews/), added by the sync
        Field("area", "keyword"),
        Field("neighbourhood_group", "keyword"),
        Field("neighbourhood", "keyword"),
        Field("room_type", "keyword"),
        Field("price", "number"),
        Field("minimum_nights", "integer"),
        Field("number_of_reviews", "integer"),
        Field("reviews_per_month", "number"),
        Field("availability_365", "integer"),
        Field("last_review", "date"),
        Field("latitude", "number"),
        Field("longitude", "number"),
        # The detailed file's facts (None for a listing loaded from a summary file), under its column names.
        Field("property_type", "keyword"),
        Field("accommodates", "integer"),
        Field("bedrooms", "integer"),
        Field("beds", "integer"),
        Field("baths", "number"),  # parsed from bathrooms_text
        Field("bathrooms_text", "keyword", filterable=False),
        Field("review_scores_rating", "number"),
        Field("host_is_superhost", "bool"),
        Field("instant_bookable", "bool"),
        Field("amenities", "list", filterable=False),  # the host's own strings, shown as written
        Field("amenity_features", "list"),  # canonical slugs (listings/amenities.toml): "all of" filters
    ),
    word_fields=("name", "neighbourhood", "neighbourhood_group", "room_type", "description", "guest_summary"),
    store_key="listing_id",
    vector_table="listing_vectors",
    sync_table="listing_sync",
    tombstone_table="listing_tombstones",
    collection="Listing",
    layout_version="3",
)
