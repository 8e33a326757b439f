"""Which listing fields feed the description, and which are only filterable.

The split decides what a change costs:
- DESCRIPTION_FIELDS (name, area, neighbourhood, room type, price, minimum nights,
  review band) feed the LLM prompt; a change to one regenerates the description
  and re-embeds the listing. A detailed row adds its structured facts (property
  type, guests, bedrooms, beds, baths, rating, Superhost, the amenities the
  grounding check can back): a change of one of those regenerates it too.
- Everything else (exact review counts, reviews per month, last review,
  availability, coordinates, host counts, license) is a filterable property of
  the vector object only; a change updates properties without any model call.
Reviews enter the description as a coarse band, so a new review does not cost an
LLM call while "well reviewed" stays true to the facts.
"""

from __future__ import annotations

from typing import Any, Mapping

from gfl_dagster.listings.amenities import default_amenity_map
from gfl_dagster.listings.fact_support import default_fact_claims, listing_amenity_features
from gfl_dagster.listings.source import LISTINGS


def review_band(number_of_reviews: int | None) -> str:
    count = number_of_reviews or 0
    if count == 0:
        return "no reviews yet"
    if count < 10:
        return "fewer than 10 reviews"
    if count < 100:
        return "10 to 99 reviews"
    return "100 or more reviews"


def format_price(price: Any) -> str | None:
    if price is None:
        return None
    amount = float(price)
    return f"${amount:,.0f}" if amount.is_integer() else f"${amount:,.2f}"


def description_input(row: Mapping[str, Any]) -> dict[str, Any]:
    """The facts a description is written from; its hash decides regeneration.

    `row` is a `listings` row as Postgres returns it: its `area` is derived there
    (gfl_area in schema.sql), the one place the partition is decided. A detailed
    row adds what it has of its structured facts (rich_facts); a summary row's
    input, and so its hash, is what it always was.
    """
    price = row.get("price")
    return {
        "name": row.get("name") or "",
        "area": row["area"],
        "neighbourhood": row.get("neighbourhood") or "",
        "room_type": row["room_type"],
        "price_per_night": format_price(price),
        "minimum_nights": row.get("minimum_nights"),
        "reviews": review_band(row.get("number_of_reviews")),
        **rich_facts(row),
    }


def rich_facts(row: Mapping[str, Any]) -> dict[str, Any]:
    """The detailed file's facts a description may state, those the row has: property type, guests, bedrooms,
    beds, baths (Airbnb's words, "1.5 shared baths"), rating, Superhost, and the canonical amenities the
    grounding check can back (fact_claims.toml), by their labels. Never the host's own words."""
    facts: dict[str, Any] = {}
    for key, column in RICH_FACT_COLUMNS.items():
        if row.get(column) not in (None, ""):
            facts[key] = row[column]
    if row.get("host_is_superhost") is True:
        facts["superhost"] = True
    sayable = default_fact_claims().amenities
    amenities = [default_amenity_map().label(f) for f in listing_amenity_features(row) if f in sayable]
    if amenities:
        facts["amenities"] = amenities
    return facts


# Keys of the description input -> the detailed file's columns.
RICH_FACT_COLUMNS = {"property_type": "property_type", "guests": "accommodates", "bedrooms": "bedrooms",
                     "beds": "beds", "baths": "bathrooms_text", "rating": "review_scores_rating"}


def vector_properties(row: Mapping[str, Any], description: str | None,
                      guest_summary: str | None = None) -> dict[str, Any]:
    """Filterable properties of the vector object, keyed by CSV column names, and the generated texts."""
    properties = {field: row.get(field) for field in LISTINGS.field_names}
    properties["id"] = int(row["id"])
    properties["price"] = None if row.get("price") is None else float(row["price"])
    last_review = row.get("last_review")
    properties["last_review"] = last_review.isoformat() if hasattr(last_review, "isoformat") else last_review
    properties["description"] = description
    properties["guest_summary"] = guest_summary
    return properties
