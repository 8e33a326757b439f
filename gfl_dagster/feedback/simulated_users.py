"""Simulated people for `gfl simulate --users`: they search, see ads, view, click, save and book.

Each user has a persona (an audience of ads/audiences.toml with the listings it likes) and a
favourite area. A step is one search: the persona's sentence, the ten listings that fit it best,
an impression of each with the audience's ad when the listing has one (the variant chosen as the
page chooses it, `choose_ad`, and recorded with its propensity), then views, ad clicks, saves and the
odd booking. Ad clicks follow the market's hidden click model (feedback/market.py: a probability per
audience and angle, which the learner never reads), so the learning step has something true to find.

They are served as a person is: each user holds a session, each hit and ad shown gets its impression id
from the functions the API uses (feedback/impressions.py), and their events pass the API's check before
they are stored. Their bookings are the operator's (this is the operator's command).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import Engine

from gfl_dagster.ads.allocation import current_bandit
from gfl_dagster.ads.for_hits import choose_ad
from gfl_dagster.db import queries
from gfl_dagster.feedback.events import Event
from gfl_dagster.feedback.impressions import Signer, check_served, served
from gfl_dagster.feedback.market import ClickModel
from gfl_dagster.feedback.record import record_events


@dataclass(frozen=True)
class Persona:
    audience: str
    sentence: str  # {area} is filled in
    room_types: tuple[str, ...]
    max_price: Optional[float] = None


PERSONAS = (
    Persona("family_with_kids", "family friendly place in {area}", ("Entire home/apt",)),
    Persona("budget_backpacker", "cheap private room in {area}", ("Private room", "Shared room"), 80),
    Persona("young_couple", "romantic place for two in {area}", ("Entire home/apt", "Private room"), 250),
    Persona("business_traveller", "quiet place near the subway in {area}", ("Entire home/apt", "Private room")),
    Persona("older_couple", "comfortable well reviewed apartment in {area}", ("Entire home/apt",), 300),
)
VIEW, SAVE, BOOK = 0.15, 0.2, 0.1


@dataclass(frozen=True)
class User:
    user_id: str
    persona: Persona
    area: str
    session: str  # as the server hands a page its session


def make_users(count: int, areas: list[str], rng: random.Random, signer: Signer) -> list[User]:
    favourite = areas[:2] or areas  # the busiest areas: people crowd where the listings are
    return [User(f"sim-{n:03d}", rng.choice(PERSONAS), rng.choice(favourite), signer.new_session())
            for n in range(count)]


def step(engine: Engine, user: User, rng: random.Random, truth: ClickModel, signer: Signer) -> dict[str, int]:
    """One search by `user` and what they do with it; returns the events recorded, by kind. An audience
    the truth leaves out does not click ads."""
    with engine.connect() as connection:
        hits = connection.execute(queries.SIMULATE_SEARCH, {
            "area": user.area, "room_types": list(user.persona.room_types),
            "max_price": user.persona.max_price, "audience": user.persona.audience}).all()
    at = datetime.now(timezone.utc)
    query = user.persona.sentence.format(area=user.area)
    events = [Event("search", user.user_id, None, None, query, at)]
    audience = user.persona.audience
    bandit = current_bandit(engine)
    shown = []
    for hit in hits:
        # The audience's ad the page would show, chosen as the page chooses it.
        variants = [{"id": ad_id, "angle": angle} for ad_id, angle in zip(hit.ad_ids or [], hit.ad_angles or [])]
        ad = None
        if variants:
            chosen, propensity = choose_ad(bandit, audience, variants, rng)
            ad = {**chosen, "propensity": propensity}
        shown.append({"id": hit.id, "ad": ad})
    served(signer, user.session, shown)  # each hit and ad its impression id, as the API serves them
    for hit in shown:
        listing_id, seen, ad = hit["id"], hit["impression_id"], hit["ad"]
        events.append(Event("impression", user.user_id, listing_id, None, query, at, seen))
        if ad is not None:
            events.append(Event("impression", user.user_id, listing_id, ad["id"], query, at, ad["impression_id"],
                                ad["propensity"]))
            # Clicked as the truth says.
            if audience in truth.probabilities and rng.random() < truth.probability(audience, ad["angle"]):
                events.append(Event("click", user.user_id, listing_id, ad["id"], query, at, ad["impression_id"]))
        if rng.random() < VIEW:
            events.append(Event("view", user.user_id, listing_id, None, query, at, seen))
            if rng.random() < SAVE:
                events.append(Event("save", user.user_id, listing_id, None, query, at, seen))
                if rng.random() < BOOK:
                    events.append(Event("book", user.user_id, listing_id, None, query, at))
    events, problems = check_served(events, signer, user.session, may_book=True)
    if problems:
        raise RuntimeError(f"the simulator served what the API refuses: {problems[:3]}")
    record_events(engine, events)
    counts: dict[str, Any] = {}
    for event in events:
        counts[event.kind] = counts.get(event.kind, 0) + 1
    return counts
