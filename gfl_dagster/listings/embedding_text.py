"""The text that is embedded for a listing."""

from __future__ import annotations

from typing import Any, Mapping

from gfl_dagster.listings.amenities import default_amenity_map
from gfl_dagster.listings.facts import description_input
from gfl_dagster.listings.description_prompt import template_description


def embedding_text(row: Mapping[str, Any], description: str | None, guest_summary: str | None = None) -> str:
    """Listing name and key attributes, then the generated description, then what people search for that
    the description does not say (from a detailed file: property type, guests, rooms, rating, amenities),
    then what guests say.

    Without a current description (generation failed or is pending) the listing
    is still embedded from its attributes, so it stays searchable and no stale
    description speaks for it. The guest summary (reviews/) is checked, extractive text about the reviews:
    "somewhere guests call quiet" finds the listings whose guests say so.
    """
    facts = description_input(row)
    head = f"{facts['name']}. {facts['room_type']} in {facts['neighbourhood']}, {facts['area']}."
    body = description if description else template_description(facts)
    unsaid = [fact for fact in searched_facts(row) if fact.lower() not in body.lower()]
    tail = f"Also: {', '.join(unsaid)}." if unsaid else ""
    guests = f"What guests say: {guest_summary}" if guest_summary else ""
    return " ".join(part for part in (head, body, tail, guests) if part).strip()


def searched_facts(row: Mapping[str, Any]) -> list[str]:
    """A detailed row's facts in the words a search uses: ["Entire condo", "4 guests", "2 bedrooms", "3 beds",
    "1 bath", "rated 4.87", "Superhost", "wifi", "washer", ...]; [] for a listing from a summary file.

    Every canonical amenity, by its label; never the host's own strings (up to hundreds, in any words: they
    would drown the rest of the text and cost embedding time).
    """
    rating = row.get("review_scores_rating")
    facts = [row.get("property_type") or "", _count(row.get("accommodates"), "guest"),
             _count(row.get("bedrooms"), "bedroom"), _count(row.get("beds"), "bed"), row.get("bathrooms_text") or "",
             "" if rating is None else f"rated {float(rating):g}", "Superhost" if row.get("host_is_superhost") else "",
             *(default_amenity_map().label(name) for name in row.get("amenity_features") or ())]
    return [fact for fact in facts if fact]


def _count(number: Any, noun: str) -> str:
    if number is None:
        return ""
    return f"{number:g} {noun}{'' if number == 1 else 's'}"
