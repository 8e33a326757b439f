"""Search over the synced listings (semantic, hybrid, keyword or structured) and recommendations citing them.

The query model and its validation live in `query.py`, the prompt, answer check
and template of recommendations in `recommendation.py`; this module runs them
against an embedder, a vector store and the model service (generation/generate.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Optional, Sequence

from gfl_dagster.search import recommendation as advice
from gfl_dagster.listings.description_check import dollar_amounts
from gfl_dagster.search.query import (
    DEFAULT_ALPHA,
    MAX_LIMIT,
    MODES,
    ROOM_TYPES,
    SORT_FIELDS,
    SearchError,
    SearchQuery,
    normalized_query,
    validate_query,
)
from gfl_dagster.generation.generate import Generated, Template, generate_validated
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster.resources.embedder import EmbedderResource
from gfl_dagster.stores.contract import VectorStore

__all__ = [
    "DEFAULT_ALPHA", "MAX_LIMIT", "MODES", "ROOM_TYPES", "SORT_FIELDS", "Recommendation", "SearchError", "SearchQuery",
    "normalized_query", "recommend", "search_listings", "sorted_hits", "validate_query",
]


def sorted_hits(hits: list[dict[str, Any]], sort_field: str, descending: bool) -> list[dict[str, Any]]:
    """Hits ordered by a field, those without a value last; equal values keep their relevance order."""
    present = [hit for hit in hits if hit.get(sort_field) is not None]
    missing = [hit for hit in hits if hit.get(sort_field) is None]
    return sorted(present, key=lambda hit: hit[sort_field], reverse=descending) + missing


def search_listings(
    query: SearchQuery,
    embedder: EmbedderResource,
    store: VectorStore,
    known_areas: Optional[Sequence[str]] = None,
    known_neighbourhoods: Optional[Sequence[str]] = None,
) -> list[dict[str, Any]]:
    """Hits best first, keyed by the CSV column names plus `score` and `description`.

    Without text: a structured query, filtered and sorted by the store (score None).
    With text and a sort: the `limit` most relevant hits, then ordered by the sort.
    Raises SearchError when the query is invalid (see `validate_query`).
    """
    query = normalized_query(query, known_areas, known_neighbourhoods)
    needs_vector = not query.is_structured and query.mode != "keyword"
    hits = store.search(query, embedder.embed_query(query.text) if needs_vector else None)
    if not query.is_structured and query.sort:
        hits = sorted_hits(hits, *query.sort_order())
    return hits


@dataclass
class Recommendation:
    text: str
    cited_ids: list[int]
    hits: list[dict[str, Any]]  # every retrieved candidate, best first
    model: str  # the chat model, or the template (saying why, when it stood in for a model)
    problems: list[str] = field(default_factory=list)  # why the model's answers were rejected, if they were


def _filters(query: SearchQuery) -> dict[str, Any]:
    skip = {"text", "mode", "alpha", "limit"}
    return {f.name: getattr(query, f.name) for f in fields(query)
            if f.name not in skip and getattr(query, f.name) is not None}


def recommend(
    query: SearchQuery,
    embedder: EmbedderResource,
    store: VectorStore,
    model: ModelClientResource,
    known_areas: Optional[Sequence[str]] = None,
    known_neighbourhoods: Optional[Sequence[str]] = None,
) -> Recommendation:
    """Retrieve candidates with `search_listings`, then a short recommendation citing them as [id].

    Without a chat model: a deterministic template stating only the top hits' facts.
    With one: its answer is checked (`check_recommendation`), retried with the
    reasons, and replaced by the template if it never passes or the service fails.
    """
    from openai import OpenAIError

    hits = search_listings(query, embedder, store, known_areas, known_neighbourhoods)
    query = normalized_query(query, known_areas, known_neighbourhoods)
    allowed_amounts = [a for a in (query.min_price, query.max_price) if a is not None] + dollar_amounts(query.text)
    template = Template(advice.TEMPLATE_MODEL, lambda: advice.template_recommendation(hits))
    try:
        generated = generate_validated(
            model if hits else None, advice.recommendation_messages(query.text, _filters(query), hits),
            lambda answer: advice.check_recommendation(answer, hits, known_areas, allowed_amounts),
            template, max_tokens=400)
    except OpenAIError as error:  # the client already retried 429/5xx/timeouts
        generated = Generated(None, advice.TEMPLATE_MODEL, [f"{type(error).__name__}: {error}"], fell_back=True)
    if not generated.fell_back:
        return Recommendation(generated.text or "", advice.cited_ids(generated.text or ""), hits, generated.model)
    text = advice.template_recommendation(hits)
    return Recommendation(text, advice.cited_ids(text), hits,
                          f"{advice.TEMPLATE_MODEL} (fallback: no valid answer from {model.chat_model})",
                          generated.problems)
