"""Search over the synced listings (semantic, hybrid, keyword or structured) and recommendations citing them.

The query model and its validation live in `query.py`, the prompt, answer check
and template of recommendations in `recommendation.py`; this module runs them
against an embedder, a vector store and the model service (generation/generate.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Optional, Sequence

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
from gfl_dagster.search.interpret import Interpretation, SearchContext, empty_message, interpret, relaxations
from gfl_dagster.stores.contract import VectorStore

if TYPE_CHECKING:  # for annotations only: importing them imports Dagster, which `gfl search` must not pay for
    from gfl_dagster.resources.model_client import ModelClientResource
    from gfl_dagster.resources.embedder import EmbedderResource

__all__ = [
    "DEFAULT_ALPHA", "MAX_LIMIT", "MODES", "ROOM_TYPES", "SORT_FIELDS", "Recommendation", "SearchError", "SearchQuery",
    "normalized_query", "recommend", "search_listings", "sorted_hits", "validate_query",
]


def sorted_hits(hits: list[dict[str, Any]], sort_field: str, descending: bool) -> list[dict[str, Any]]:
    """Hits ordered by a field, those without a value last; equal values keep their relevance order."""
    present = [hit for hit in hits if hit.get(sort_field) is not None]
    missing = [hit for hit in hits if hit.get(sort_field) is None]
    return sorted(present, key=lambda hit: hit[sort_field], reverse=descending) + missing


# A search without words has no relevance to rank by: the listings guests have tried most come first.
DEFAULT_FILTER_SORT = "number_of_reviews:desc"


def with_default_order(query: SearchQuery) -> SearchQuery:
    """A filter-only query without a sort, ranked by DEFAULT_FILTER_SORT rather than by listing id."""
    return replace(query, sort=DEFAULT_FILTER_SORT) if query.is_structured and query.has_filters and not query.sort \
        else query


def ranking(query: SearchQuery, defaulted: bool = False) -> str:
    """How the hits are ordered, as a person reads it: "most reviewed first (the default without words)"."""
    order = query.sort_order()
    if order is None:
        return "best match first"
    field, descending = order
    words = {"price": ("most expensive", "cheapest"), "number_of_reviews": ("most reviewed", "least reviewed"),
             "last_review": ("most recently reviewed", "least recently reviewed")}.get(field)
    named = (words[0] if descending else words[1]) if words else \
        f"{field.replace('_', ' ')}, {'highest' if descending else 'lowest'}"
    return f"{named} first" + (" (the default for a search without words)" if defaulted else
                               " among the best matches" if not query.is_structured else "")


def query_embedder(embedder: EmbedderResource, store: VectorStore) -> EmbedderResource:
    """The embedder of the model the store's vectors were made with: during an embedding-model change the
    live generation, built with the previous model, serves every search (stores/generations.py)."""
    from gfl_dagster.clients.embedder import embedder_for_model

    live = store.live_model()
    return embedder if live is None else embedder_for_model(embedder, live)


def search_listings(
    query: SearchQuery,
    embedder: EmbedderResource,
    store: VectorStore,
    known_areas: Optional[Sequence[str]] = None,
    known_neighbourhoods: Optional[Sequence[str]] = None,
    known_property_types: Optional[Sequence[str]] = None,
) -> list[dict[str, Any]]:
    """Hits best first, keyed by the CSV column names plus `score` and `description`.

    Without text: a structured query, filtered and sorted by the store (score None), most reviewed first
    unless it names a sort (`DEFAULT_FILTER_SORT`).
    With text and a sort: the `limit` most relevant hits, then ordered by the sort.
    Raises SearchError when the query is invalid (see `validate_query`), or filters on a fact the store
    does not carry.
    """
    query = with_default_order(normalized_query(query, known_areas, known_neighbourhoods, known_property_types))
    missing = [column for column in query.filter_columns() if column not in store.spec.field_names]
    if missing:
        raise SearchError(f"the store's {store.spec.name}s carry no {', '.join(missing)}: "
                          "that filter cannot be applied to this data")
    needs_vector = not query.is_structured and query.mode != "keyword"
    hits = store.search(query, query_embedder(embedder, store).embed_query(query.text) if needs_vector else None)
    if not query.is_structured and query.sort:
        hits = sorted_hits(hits, *query.sort_order())
    return hits


@dataclass
class SearchResult:
    hits: list[dict[str, Any]]
    interpretation: Interpretation
    message: str = ""  # fewer hits than asked for: how many match, or which constraint emptied the result
    ranking: str = ""  # how the hits are ordered (`ranking`)


def understood_search(query: SearchQuery, embedder: EmbedderResource, store: VectorStore, context: SearchContext,
                      literal: bool = False, model: Optional[ModelClientResource] = None) -> SearchResult:
    """`search_listings` after the sentence's constraints became filters (interpret.py); every hit satisfies
    them. When fewer listings than asked for match, the message says so, and for none, what would bring some."""
    interpretation = interpret(query, context, literal, model)
    run = with_default_order(interpretation.query)
    defaulted = run.sort != interpretation.query.sort
    interpretation = replace(interpretation, query=run)
    known = {"known_areas": context.areas, "known_neighbourhoods": context.neighbourhoods,
             "known_property_types": context.property_types}
    hits = search_listings(run, embedder, store, **known)
    message = ""
    if not hits and run.has_filters:
        def count(relaxed: SearchQuery) -> int:
            return len(search_listings(replace(relaxed, limit=MAX_LIMIT, sort=None), embedder, store, **known))

        message = empty_message(run, relaxations(run, count))
    elif len(hits) < run.limit and run.has_filters:
        message = f"only {len(hits)} listing{'s' if len(hits) != 1 else ''} match{'es' if len(hits) == 1 else ''} " \
                  "every constraint"
    return SearchResult(hits, interpretation, message, ranking(run, defaulted))


@dataclass
class Recommendation:
    text: str
    cited_ids: list[int]
    hits: list[dict[str, Any]]  # every retrieved candidate, best first
    model: str  # the chat model, or the template (saying why, when it stood in for a model)
    problems: list[str] = field(default_factory=list)  # why the model's answers were rejected, if they were
    interpretation: Optional[Interpretation] = None
    message: str = ""  # see SearchResult.message


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
    *,
    context: Optional[SearchContext] = None,
    literal: bool = False,
) -> Recommendation:
    """Retrieve candidates, then a short recommendation citing them as [id].

    With a `context` the sentence is understood first (`understood_search`), so every
    candidate satisfies what was asked and the answer says when fewer exist; without
    one the query is taken as given (`search_listings`).
    Without a chat model: a deterministic template stating only the top hits' facts.
    With one: its answer is checked (`check_recommendation`), retried with the
    reasons, and replaced by the template if it never passes or the service fails.
    """
    from openai import OpenAIError

    if context is not None:
        found = understood_search(query, embedder, store, context, literal, model)
        known_areas = context.areas
    else:
        found = SearchResult(search_listings(query, embedder, store, known_areas, known_neighbourhoods),
                             Interpretation(normalized_query(query, known_areas, known_neighbourhoods)))
    hits, run = found.hits, found.interpretation.query
    if not hits:  # nothing to recommend, and nothing a model could add: say what matched nothing
        text = advice.template_recommendation(hits, found.message)
        return Recommendation(text, [], hits, advice.TEMPLATE_MODEL, interpretation=found.interpretation,
                              message=found.message)
    allowed_amounts = [a for a in (run.min_price, run.max_price) if a is not None] + dollar_amounts(query.text)
    template = Template(advice.TEMPLATE_MODEL, lambda: advice.template_recommendation(hits, found.message))
    try:
        generated = generate_validated(
            model, advice.recommendation_messages(query.text, _filters(run), hits),
            lambda answer: advice.check_recommendation(answer, hits, known_areas, allowed_amounts),
            template, max_tokens=400)
    except (OpenAIError, ValueError) as error:  # retried by the client (429/5xx/timeouts), or not JSON at all
        generated = Generated(None, advice.TEMPLATE_MODEL, [f"{type(error).__name__}: {error}"], fell_back=True)
    if not generated.fell_back:
        text = generated.text or ""
        if found.message and generated.model != advice.TEMPLATE_MODEL:  # the count of matches is ours to state
            text = f"{found.message[0].upper()}{found.message[1:]}. {text}"
        return Recommendation(text, advice.cited_ids(text), hits, generated.model,
                              interpretation=found.interpretation, message=found.message)
    text = advice.template_recommendation(hits, found.message)
    return Recommendation(text, advice.cited_ids(text), hits,
                          f"{advice.TEMPLATE_MODEL} (fallback: no valid answer from {model.chat_model})",
                          generated.problems, found.interpretation, found.message)
