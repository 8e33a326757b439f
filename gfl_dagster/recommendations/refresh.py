"""Users of one bucket -> "recommended for you": retrieval from their events, a checked blurb, stored back.

Only users whose newest event is newer than their stored recommendation, or whose
recommendation holds a listing that changed or went away, are refreshed: one user's new
event costs that user's refresh, one listing's change the refreshes of those it is
recommended to, and nothing else. The listings come
from the vector store (those that still exist), nearest to the weighted centroid of
what the user viewed, clicked, saved and booked, minus what they booked; the blurb cites
only them (the recommendation check), written by the chat model or the template.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from sqlalchemy import Engine

from gfl_dagster.db import queries, tables
from gfl_dagster.generation.generate import Template, from_template, generate_validated
from gfl_dagster.generation.spend import BudgetReached
from gfl_dagster.listings.embedding_text import embedding_text
from gfl_dagster.recommendations.signals import listing_weights, weighted_centroid
from gfl_dagster.resources.embedder import EmbedderResource
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster.search import recommendation as advice
from gfl_dagster.search.query import SearchQuery
from gfl_dagster.search.retrieval import query_embedder
from gfl_dagster.stores.contract import VectorStore

PICKS = 6
ANCHORS = 5  # the listings a user engaged with most, embedded to find what is like them
REQUEST = "Listings like the ones this user viewed, saved and booked."


@dataclass
class RefreshReport:
    bucket: str
    users: int = 0
    refreshed: int = 0
    fallbacks: int = 0
    seconds: float = 0.0
    users_refreshed: list[str] = field(default_factory=list)


def refresh_bucket(engine: Engine, embedder: EmbedderResource, store: VectorStore, model: ModelClientResource,
                   bucket: str, progress: Callable[[str], None] = lambda message: None) -> RefreshReport:
    started = time.monotonic()
    report = RefreshReport(bucket)
    with engine.connect() as connection:
        users = connection.execute(queries.USERS_TO_REFRESH, {"bucket": bucket, "prompt_version": advice.RECOMMENDATION_PROMPT_VERSION}).all()
    report.users = len(users)
    for user in users:
        row = recommend_for_user(engine, embedder, store, model, user.user_id, user.newest, bucket)
        if row is None:  # nothing left to be like: the user is a cold start again, not a stale row forever
            with engine.begin() as connection:
                connection.execute(queries.FORGET_RECOMMENDATION, {"user_id": user.user_id})
            continue
        with engine.begin() as connection:
            connection.execute(tables.UPSERT_RECOMMENDATION, row)
        report.refreshed += 1
        report.fallbacks += row["written_by"] != row["model"]
        report.users_refreshed.append(user.user_id)
        progress(f"{bucket}: recommended for {user.user_id}")
    report.seconds = time.monotonic() - started
    return report


def recommend_for_user(engine: Engine, embedder: EmbedderResource, store: VectorStore, model: ModelClientResource,
                       user_id: str, newest_event: int, bucket: str) -> dict[str, Any] | None:
    with engine.connect() as connection:
        signals = [dict(r) for r in connection.execute(queries.USER_SIGNALS, {"user_id": user_id}).mappings()]
        booked = {r.listing_id for r in connection.execute(queries.BOOKED_BY_USER, {"user_id": user_id})}
        weights = listing_weights(signals)
        anchors = sorted(weights, key=lambda i: -weights[i])[:ANCHORS]
        rows = {r["id"]: dict(r) for r in connection.execute(queries.LISTINGS_WITH_DESCRIPTIONS_FOR,
                                                              {"ids": anchors}).mappings()}
    if not rows:
        return None  # every listing the user touched is gone: nothing to be like
    texts = [embedding_text(r, r.get("description")) for r in rows.values()]
    vectors = dict(zip(rows, query_embedder(embedder, store).embed_documents(texts)))  # in the store's vector space
    centroid = weighted_centroid(vectors, weights)
    hits = [hit for hit in store.search(SearchQuery(text=REQUEST, limit=PICKS + len(booked)), centroid)
            if hit["id"] not in booked][:PICKS]
    if not hits:
        return None
    def check(text: str) -> list[str]:
        return advice.check_recommendation(text, hits)

    # No lead of its own: the page's box says where it comes from, once.
    template = Template(advice.TEMPLATE_MODEL, lambda: advice.template_recommendation(hits, subject="you"))
    try:
        generated = generate_validated(model, advice.recommendation_messages(REQUEST, {}, hits), check, template,
                                       max_tokens=300)
    except BudgetReached as reached:  # the user gets the honest template now, not nothing
        generated = replace(from_template(template, check), problems=[str(reached)], fell_back=True)
    writer = model.chat_model if model.has_chat else advice.TEMPLATE_MODEL
    return {"user_id": user_id, "bucket": bucket, "listing_ids": [hit["id"] for hit in hits],
            "blurb": generated.text or advice.template_recommendation(hits), "model": writer,
            "written_by": generated.model if generated.text else advice.TEMPLATE_MODEL,
            "based_on": {"anchors": {str(i): round(weights[i], 3) for i in rows}, "excluded_booked": sorted(booked),
                         "prompt_tokens": generated.prompt_tokens, "completion_tokens": generated.completion_tokens},
            "source_event_id": newest_event, "prompt_version": advice.RECOMMENDATION_PROMPT_VERSION,
            "notes": "; ".join(generated.problems) if generated.fell_back else None}
