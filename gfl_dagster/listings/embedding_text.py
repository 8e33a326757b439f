"""The text that is embedded for a listing."""

from __future__ import annotations

from typing import Any, Mapping

from gfl_dagster.listings.facts import description_input
from gfl_dagster.listings.description_prompt import template_description


def embedding_text(row: Mapping[str, Any], description: str | None) -> str:
    """Listing name and key attributes, then the generated description.

    Without a current description (generation failed or is pending) the listing
    is still embedded from its attributes, so it stays searchable and no stale
    description speaks for it.
    """
    facts = description_input(row)
    head = f"{facts['name']}. {facts['room_type']} in {facts['neighbourhood']}, {facts['area']}."
    body = description if description else template_description(facts)
    return f"{head} {body}".strip()
