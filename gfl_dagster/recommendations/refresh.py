"""Users of one bucket -> "recommended for you": their listings chosen from their events, a checked blurb, stored.

Only users whose newest event is newer than their stored recommendation, or whose
recommendation holds a listing that changed or went away, are refreshed: one user's new
event costs that user's refresh, one listing's change the refreshes of those it is
recommended to, and nothing else. The listings are chosen by recommendations/ranking.py
(the choice `gfl bench recommend` judges): what is nearest, in the vector store, to the
weighted centroid of what the user viewed, clicked, saved and booked, what the guests who
booked the same listings also booked (listing_co_bookings: only the rows of the user's own
listings are read), how reviewed each is, and how near, of what room type and price beside the
user's listings (the nearest listings by listings_place_idx); never one the user booked. The blurb cites
only them (the recommendation check), written by the chat model or the template.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import Connection, Engine

from gfl_dagster.db import queries, tables
from gfl_dagster.generation.generate import Template, from_template, generate_validated
from gfl_dagster.generation.spend import BudgetReached
from gfl_dagster.recommendations import ranking
from gfl_dagster.recommendations.signals import listing_weights
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster.search import recommendation as advice
from gfl_dagster.search.query import SearchQuery
from gfl_dagster.stores.contract import VectorStore

PICKS = 6
REQUEST = "Listings like the ones this user viewed, saved and booked."


@dataclass
class RefreshReport:
    bucket: str
    users: int = 0
    refreshed: int = 0
    fallbacks: int = 0
    left_without: int = 0  # users with nothing to be like (none of their listings stored, or none left): none now
    seconds: float = 0.0
    users_refreshed: list[str] = field(default_factory=list)


def refresh_bucket(engine: Engine, store: VectorStore, model: ModelClientResource,
                   bucket: str, progress: Callable[[str], None] = lambda message: None) -> RefreshReport:
    started = time.monotonic()
    report = RefreshReport(bucket)
    with engine.connect() as connection:
        users = connection.execute(queries.USERS_TO_REFRESH, {"bucket": bucket, "prompt_version": advice.RECOMMENDATION_PROMPT_VERSION}).all()
    report.users = len(users)
    for user in users:
        row = recommend_for_user(engine, store, model, user.user_id, user.newest, bucket)
        if row is None:  # nothing left to be like: the user is a cold start again, not a stale row forever
            report.left_without += 1
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


class ProjectSources:
    """ranking.Sources from the vector store (nearest listings) and the tables (co-bookings, reviews, facts,
    places)."""

    def __init__(self, connection: Connection, store: VectorStore):
        self.connection, self.store = connection, store

    def nearest(self, centroid: Sequence[float], count: int) -> dict[int, float]:
        return {hit["id"]: hit["score"] for hit in self.store.search(SearchQuery(text=REQUEST, limit=count), centroid)}

    def co_bookings(self, listings: Sequence[int]) -> list[tuple[int, int, int]]:
        return [tuple(row) for row in self.connection.execute(queries.CO_BOOKINGS_OF, {"ids": list(listings)})]

    def most_reviewed(self, count: int) -> list[int]:
        return [row.id for row in self.connection.execute(queries.MOST_REVIEWED, {"limit": count})]

    def facts(self, listings: Iterable[int]) -> dict[int, ranking.Facts]:
        rows = self.connection.execute(queries.FACTS_OF, {"ids": list(listings)})
        return {row.id: ranking.Facts(row.latitude, row.longitude, row.room_type,
                                      float(row.price) if row.price is not None else None, float(row.reviews))
                for row in rows}

    def near(self, places: Sequence[tuple[float, float]], count: int) -> set[int]:
        rows = self.connection.execute(queries.LISTINGS_NEAR, {"latitudes": [lat for lat, _ in places],
                                                               "longitudes": [lon for _, lon in places],
                                                               "count": count})
        return {row.id for row in rows}


def recommend_for_user(engine: Engine, store: VectorStore, model: ModelClientResource,
                       user_id: str, newest_event: int, bucket: str) -> dict[str, Any] | None:
    with engine.connect() as connection:
        signals = [dict(r) for r in connection.execute(queries.USER_SIGNALS, {"user_id": user_id}).mappings()]
        booked = {r.listing_id for r in connection.execute(queries.BOOKED_BY_USER, {"user_id": user_id})}
        weights = listing_weights(signals)
        # The vectors searches are answered against: their centroid lies in the store's space, at no
        # embedding cost. A listing not (yet) in the store has none and is left out of the centroid.
        vectors = store.vectors(ranking.anchors(weights))
        if not vectors:
            return None  # every listing the user touched is gone (or not stored yet): nothing to be like
        chosen = ranking.recommend(weights, vectors, ProjectSources(connection, store), booked, PICKS)
        found = {r["id"]: dict(r) for r in connection.execute(queries.LISTINGS_WITH_DESCRIPTIONS_FOR,
                                                               {"ids": chosen}).mappings()}
    hits = [found[listing] for listing in chosen if listing in found]  # in the chosen order, as they are now
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
            "based_on": {"anchors": {str(i): round(weights[i], 3) for i in vectors}, "excluded_booked": sorted(booked),
                         "ranking": ranking.BLEND.__dict__,
                         "prompt_tokens": generated.prompt_tokens, "completion_tokens": generated.completion_tokens},
            "source_event_id": newest_event, "prompt_version": advice.RECOMMENDATION_PROMPT_VERSION,
            "notes": "; ".join(generated.problems) if generated.fell_back else None}
