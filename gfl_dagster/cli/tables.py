"""Human-readable renderings of search hits and of one listing."""

from __future__ import annotations

import textwrap
from typing import Any

from gfl_dagster.cli.common import counted
from gfl_dagster.listings.description_prompt import TEMPLATE_MODEL
from gfl_dagster.listings.facts import format_price


def _cut(value: Any, width: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "\u2026"


_SHOWN = ("price", "number_of_reviews")


def _place(hit: dict[str, Any]) -> str:
    """Neighbourhood and area, leaving out what the data lacks (Boston's detailed file has no area)."""
    return ", ".join(str(part) for part in (hit.get("neighbourhood"), hit.get("neighbourhood_group")) if part)


def hits_table(hits: list[dict[str, Any]], sort_field: str | None = None) -> str:
    """One entry per hit; `sort_field`, when the line does not show it already, is added to it."""
    if not hits:
        return "no listings found"
    lines = []
    for rank, hit in enumerate(hits, start=1):
        score = "" if hit.get("score") is None else f"[{hit['score']:.3f}] "
        extra = f" | {sort_field}: {hit.get(sort_field)}" if sort_field and sort_field not in _SHOWN else ""
        lines.append(
            f"{rank:>2}. {score}{hit['id']}  {_cut(hit.get('name'), 60)}\n"
            f"    {hit.get('room_type')} | {_place(hit)} | "
            f"{format_price(hit.get('price')) or 'no price'}/night | {counted(hit.get('number_of_reviews') or 0, 'review')}"
            f"{extra}"
        )
        details = detailed_facts(hit)
        if details:
            lines.append(f"    {details}")
        if hit.get("description"):
            lines.append(textwrap.indent(textwrap.fill(hit["description"], 96), "    "))
        if hit.get("guest_summary"):
            lines.append(textwrap.indent(textwrap.fill(f"What guests say: {hit['guest_summary']}", 96), "    "))
    return "\n".join(lines)


def detailed_facts(hit: dict[str, Any]) -> str:
    """'Entire condo | 4 guests | 2 bedrooms | 1 bed | 1.5 baths | rated 4.87 | superhost | instant book';
    '' for a listing loaded from a summary file."""
    def count(column: str, noun: str) -> str:
        return "" if hit.get(column) is None else counted(hit[column], noun)

    rating = hit.get("review_scores_rating")
    parts = [hit.get("property_type") or "", count("accommodates", "guest"), count("bedrooms", "bedroom"),
             count("beds", "bed"), hit.get("bathrooms_text") or "", "" if rating is None else f"rated {rating:.2f}",
             "superhost" if hit.get("host_is_superhost") else "", "instant book" if hit.get("instant_bookable") else ""]
    return " | ".join(part for part in parts if part)


def _value(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def show_text(listing_id: int, document: dict[str, Any]) -> str:
    parts = []
    source = document["source"]
    if source is None:
        parts.append(f"listing {listing_id}: not in the source database")
    else:
        parts.append(f"listing {listing_id} (version {source['version']}, updated {source['updated_at']}):")
        parts += [f"  {key}: {_value(value)}" for key, value in source.items() if key not in ("version", "updated_at")]
    description = document["description"]
    if description is None:
        parts.append("description: none stored")
    else:
        writer = description["model"]
        if description.get("fallback_reason"):
            writer = f"{TEMPLATE_MODEL} standing in for {writer}, whose answers were rejected: " \
                     f"{description['fallback_reason']}"
        parts.append(f"description ({writer}, {description['prompt_version']}, "
                     f"generated {description['generated_at']}):")
        parts.append(textwrap.indent(textwrap.fill(description["description"], 96), "  "))
    parts += guest_summary_lines(document.get("guest_summary"))
    for ad in document.get("ads") or []:
        state = f"retired {ad['retired_at']}: {ad['retire_reason']}" if ad["retired_at"] else "active"
        learned = f", examples {', '.join(map(str, ad['examples']))}" if ad["examples"] else ""
        writer = ad["written_by"] if ad["written_by"] == ad["model"] else \
            f"{ad['written_by']} standing in for {ad['model']}"
        parts.append(f"ad {ad['id']} for {ad['audience']} (variant {ad['variant']}, {ad.get('angle') or 'no'} angle, "
                     f"written by {writer}, {ad['prompt_version']}{learned}; {state}):")
        parts.append(textwrap.indent(textwrap.fill(ad["text"], 96), "  "))
        if ad["notes"]:
            parts.append(textwrap.indent(textwrap.fill(f"notes: {ad['notes']}", 96), "  "))
    vector = document["vector"]
    if vector is None:
        parts.append("vector store: absent")
    else:
        parts.append(f"vector store ({vector['store']}, {vector['embedding_model']}, {vector['dimension']} dims, "
                     f"synced version {vector['synced_version']}):")
        parts += [f"  {key}: {_value(value)}" for key, value in vector["properties"].items()
                  if key not in ("description", "guest_summary")]
    return "\n".join(parts)


def guest_summary_lines(summary: dict[str, Any] | None) -> list[str]:
    """What guests say, who wrote it, and the reviews it was built from."""
    if summary is None:
        return ["what guests say: no reviews summarized"]
    writer = summary["written_by"]
    if summary.get("fallback_reason"):
        writer = f"{writer} standing in for {summary['model']}: {summary['fallback_reason']}"
    ids = summary["review_ids"] or []
    shown = ", ".join(map(str, ids[:30])) + (f" and {len(ids) - 30} more" if len(ids) > 30 else "")
    lines = [f"what guests say ({writer}, from {counted(summary['review_count'], 'review')}, "
             f"generated {summary['generated_at']}):"]
    lines.append(textwrap.indent(textwrap.fill(summary["summary"], 96), "  ") if summary["summary"]
                 else "  nothing two reviews agree on")
    lines.append(textwrap.indent(textwrap.fill(f"built from reviews {shown or 'none'}", 96), "  "))
    return lines
