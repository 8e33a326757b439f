"""Search over the synced listings (semantic, hybrid, keyword or structured) and recommendations citing them.

The query model and its validation live in `listings/search_query.py`, the
prompt and answer checks of recommendations in `listings/recommendation.py`;
this module runs them against an embedder, a vector store and a describer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Optional, Sequence

from gfl_dagster.listings import recommendation as advice
from gfl_dagster.listings.description_check import dollar_amounts
from gfl_dagster.listings.search_query import (
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
from gfl_dagster.resources.describer import DescriberResource
from gfl_dagster.resources.embedder import EmbedderResource
from gfl_dagster.resources.vector_store import VectorStore

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


def _template(hits: list[dict[str, Any]], model: str = advice.TEMPLATE_MODEL,
              problems: Sequence[str] = ()) -> Recommendation:
    text = advice.template_recommendation(hits)
    return Recommendation(text, advice.cited_ids(text), hits, model, list(problems))


def _ask_model(query: SearchQuery, hits: list[dict[str, Any]], describer: DescriberResource,
               known_areas: Optional[Sequence[str]]) -> tuple[Optional[str], list[str]]:
    """A validated answer, or None and the reasons; each rejected answer is retried with its reasons."""
    from openai import OpenAIError

    client = describer._client()
    allowed_amounts = [a for a in (query.min_price, query.max_price) if a is not None]
    allowed_amounts += dollar_amounts(query.text)
    first = advice.recommendation_messages(query.text, _filters(query), hits)
    messages, problems = first, []
    for _ in range(max(1, describer.max_attempts)):
        try:
            response = client.chat.completions.create(model=describer.model, messages=messages,
                                                      temperature=0.3, max_tokens=400)
        except OpenAIError as error:  # the client already retried 429/5xx/timeouts
            return None, problems + [f"{type(error).__name__}: {error}"]
        answer = (response.choices[0].message.content or "").strip() if response.choices else ""
        problems = advice.check_recommendation(answer, hits, known_areas, allowed_amounts)
        if not problems:
            return answer, []
        messages = advice.retry_messages(first, answer, problems)
    return None, problems


def recommend(
    query: SearchQuery,
    embedder: EmbedderResource,
    store: VectorStore,
    describer: DescriberResource,
    known_areas: Optional[Sequence[str]] = None,
    known_neighbourhoods: Optional[Sequence[str]] = None,
) -> Recommendation:
    """Retrieve candidates with `search_listings`, then a short recommendation citing them as [id].

    Template describer: a deterministic text stating only the top hits' facts.
    LLM describer: its answer is validated (`check_recommendation`), retried with
    the reasons, and replaced by the template if it never passes.
    """
    hits = search_listings(query, embedder, store, known_areas, known_neighbourhoods)
    if describer.backend != "openai" or not hits:
        return _template(hits)
    answer, problems = _ask_model(normalized_query(query, known_areas, known_neighbourhoods), hits, describer,
                                  known_areas)
    if answer is not None:
        return Recommendation(answer, advice.cited_ids(answer), hits, describer.model)
    return _template(hits, f"{advice.TEMPLATE_MODEL} (fallback: no valid answer from {describer.model})", problems)
