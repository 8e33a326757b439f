"""The text that is embedded for a listing."""

from __future__ import annotations

from typing import Any, Mapping

from gfl_dagster.listings.facts import description_input
from gfl_dagster.listings.description_prompt import template_description


def embedding_text(row: Mapping[str, Any], description: str | None, guest_summary: str | None = None) -> str:
    """Listing name and key attributes, then the generated description, then what guests say.

    Without a current description (generation failed or is pending) the listing
    is still embedded from its attributes, so it stays searchable and no stale
    description speaks for it. The guest summary (reviews/) is checked, extractive text about the reviews:
    "somewhere guests call quiet" finds the listings whose guests say so.
    """
    facts = description_input(row)
    head = f"{facts['name']}. {facts['room_type']} in {facts['neighbourhood']}, {facts['area']}."
    body = description if description else template_description(facts)
    guests = f" What guests say: {guest_summary}" if guest_summary else ""
    return f"{head} {body}{guests}".strip()
