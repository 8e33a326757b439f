"""Simulated people for `gfl simulate --users`: they search, see ads, view, click, save and book.

Each user has a persona (feedback/personas.toml, or any file in its format: an audience of
ads/audiences.toml, the sentence it searches with and what it wants of a place) and a favourite area. A
step is one search, served as the page's is (feedback/serving.py): the persona's sentence through the
project's own search (understood, filtered, ranked), the audience's ad on each hit chosen by the bandit
(`choose_ad`) with its propensity, and an impression id for each hit and ad, bound to the user's
session. The person then sends back what the page sends: an impression of each hit and ad, a view of the
hits that fit (by price, place, room type and, where the listing states them, guests, rating and
amenities: the better the fit, the likelier the view), an ad click as the market's hidden click model
says (feedback/market.py: a probability per audience and angle, which the learner never reads), and the
odd save and booking of what was viewed. Those events pass the API's check (`check_served`) before they
are stored, so a simulated click counts only as a person's does. Bookings are the operator's (this is
the operator's command).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from gfl_dagster.feedback.events import Event
from gfl_dagster.feedback.impressions import Signer, check_served
from gfl_dagster.feedback.market import ClickModel
from gfl_dagster.feedback.personas import Persona
from gfl_dagster.feedback.record import record_events
from gfl_dagster.feedback.serving import SearchServer
from gfl_dagster.search.query import SearchQuery


# A hit is viewed with a chance between these, by the share of the persona's wishes it meets; a viewed one is
# saved with SAVE, a saved one booked with BOOK.
VIEW_UNFIT, VIEW_FIT = 0.02, 0.35
SAVE, BOOK = 0.2, 0.1


@dataclass(frozen=True)
class User:
    user_id: str
    persona: Persona
    area: str
    session: str  # as the server hands a page its session


def make_users(count: int, areas: list[str], personas: Sequence[Persona], rng: random.Random,
               signer: Signer) -> list[User]:
    """`count` people, each of one of `personas` at random, who favour one of the two busiest `areas`."""
    favourite = areas[:2] or areas  # the busiest areas: people crowd where the listings are
    return [User(f"sim-{n:03d}", rng.choice(personas), rng.choice(favourite), signer.new_session())
            for n in range(count)]


def fit(hit: Mapping[str, Any], user: User) -> float:
    """The share of the user's wishes `hit` meets, of those it can be judged on: its place, room type and
    price, and guests, rating and amenities where the listing states them (a fact it leaves out is no
    evidence either way)."""
    persona = user.persona
    met = [user.area in (hit.get("neighbourhood_group"), hit.get("neighbourhood")),
           hit.get("room_type") in persona.room_types]
    if persona.max_price is not None and hit.get("price") is not None:
        met.append(float(hit["price"]) <= persona.max_price)
    if persona.min_guests is not None and hit.get("accommodates") is not None:
        met.append(int(hit["accommodates"]) >= persona.min_guests)
    if persona.min_rating is not None and hit.get("review_scores_rating") is not None:
        met.append(float(hit["review_scores_rating"]) >= persona.min_rating)
    if persona.features and hit.get("amenity_features") is not None:
        met += [feature in hit["amenity_features"] for feature in persona.features]
    return sum(met) / len(met)


def step(server: SearchServer, user: User, rng: random.Random, truth: ClickModel) -> dict[str, int]:
    """One search by `user`, served by `server` as the page's is, and what they do with it; returns the events
    recorded, by kind. An audience the truth leaves out does not click ads."""
    text = user.persona.sentence.format(area=user.area)
    audience = user.persona.audience
    found, _ = server.search(SearchQuery(text=text), user.session, declared=audience, user_id=user.user_id,
                             rng=rng)
    events = [Event("search", user.user_id, None, None, text)]
    for hit in found.hits:
        listing_id, seen, ad = hit["id"], hit["impression_id"], hit["ad"]
        events.append(Event("impression", user.user_id, listing_id, None, text, None, seen))
        if ad is not None:
            # As the page sends it, with the propensity it was served with.
            events.append(Event("impression", user.user_id, listing_id, ad["id"], text, None, ad["impression_id"],
                                ad["propensity"]))
            if audience in truth.probabilities and rng.random() < truth.probability(audience, ad["angle"]):
                events.append(Event("click", user.user_id, listing_id, ad["id"], text, None, ad["impression_id"]))
        if rng.random() < VIEW_UNFIT + (VIEW_FIT - VIEW_UNFIT) * fit(hit, user):
            events.append(Event("view", user.user_id, listing_id, None, text, None, seen))
            if rng.random() < SAVE:
                events.append(Event("save", user.user_id, listing_id, None, text, None, seen))
                if rng.random() < BOOK:
                    events.append(Event("book", user.user_id, listing_id, None, text))
    events, problems = check_served(events, server.signer, user.session, may_book=True)
    if problems:
        raise RuntimeError(f"the simulator served what the API refuses: {problems[:3]}")
    record_events(server.engine, events)
    counts: dict[str, int] = {}
    for event in events:
        counts[event.kind] = counts.get(event.kind, 0) + 1
    return counts
