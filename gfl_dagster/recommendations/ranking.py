"""Chooses one user's listings from what is like their history and what its guests also booked (pure).

Signals, blended on a log scale (weights in `Blend`, chosen on the dev guests of `gfl bench recommend`):

- content: cosine similarity of a listing's vector to the weighted centroid of the user's strongest listings
  (the vector store's `CONTENT_POOL` nearest; a candidate found otherwise gets the pool's lowest);
- co-bookings: how many guests booked both a listing and one of the user's, weighted by that one's weight in
  the user's history (the listing_co_bookings table, built from every guest's trusted bookings);
- popularity: the listing's reviews, a prior that ranks places guests choose first among near-equals;
- place: how far a listing is from the nearest of the user's strongest listings (ln(1 + km)); the
  `PLACE_POOL` listings nearest each of them are candidates, so popularity also ranks what is near them;
- room type: the share of the user's weight on the listing's room type;
- price: how far a listing's price is from the user's (|ln(its price / their weighted geometric mean)|).

Where the candidates and their figures come from is the caller's (`Sources`): the vector store and the
database in the project, arrays in the benchmark, so both judge the same choice. Listings the user already
booked are never returned, whatever their score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple, Optional, Protocol, Sequence

from gfl_dagster.search.query import MAX_LIMIT

ANCHORS = 5  # the user's strongest listings: their centroid is what "like them" means, their co-bookings count
CONTENT_POOL = MAX_LIMIT  # nearest listings to the centroid considered: as many as one search returns
POPULAR_POOL = 50  # most-reviewed listings always considered, so a user without co-bookings still gets a prior
PLACE_POOL = 100  # listings nearest each of the user's strongest listings considered
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Blend:
    content: float  # per 0.01 of cosine similarity to the centroid
    co_bookings: float  # per unit of ln(1 + weighted guests who booked both)
    popularity: float  # per unit of ln(1 + reviews)
    place: float = 0.0  # per unit of ln(1 + km to the nearest of the user's strongest listings), subtracted
    room_type: float = 0.0  # per unit of the user's share of weight on the listing's room type
    price: float = 0.0  # per unit of |ln(price / the user's price)|, subtracted


class Facts(NamedTuple):
    """What the popularity, place, room type and price signals read of a listing."""

    latitude: float
    longitude: float
    room_type: str
    price: Optional[float]  # None: no price (the price signal leaves the listing alone)
    reviews: float = 0.0


# Chosen on the dev guests only (BENCHMARKS.md, "The place, room type and price of a guest's stays"): the best
# simulated default-truth dev hit@10 over popularity's among blends >= 2x popularity on the real dev guests.
BLEND = Blend(content=0.5, co_bookings=4.0, popularity=2.0, place=2.0, room_type=2.0, price=1.0)


class Sources(Protocol):
    """Where candidates come from: the vector store and tables in the project, arrays in the benchmark."""

    def nearest(self, centroid: Sequence[float], count: int) -> dict[int, float]:
        """{listing: cosine similarity} of the `count` listings nearest the centroid."""

    def co_bookings(self, listings: Sequence[int]) -> Iterable[tuple[int, int, int]]:
        """(listing, other, guests who booked both) for each of `listings`."""

    def most_reviewed(self, count: int) -> list[int]:
        """The `count` most-reviewed listings."""

    def facts(self, listings: Iterable[int]) -> dict[int, Facts]:
        """{listing: its facts, reviews included} of those of `listings` that exist."""

    def near(self, places: Sequence[tuple[float, float]], count: int) -> set[int]:
        """The `count` listings nearest each (latitude, longitude) of `places`, together."""


def anchors(weights: Mapping[int, float]) -> list[int]:
    """The user's strongest listings, strongest first (ties: the smaller id)."""
    return sorted(weights, key=lambda listing: (-weights[listing], listing))[:ANCHORS]


def weighted_centroid(vectors: Mapping[int, Sequence[float]], weights: Mapping[int, float]) -> list[float]:
    """The weighted mean of the vectors of the listings the user engaged with."""
    total = sum(weights[i] for i in vectors)
    dimension = len(next(iter(vectors.values())))
    return [sum(vectors[i][d] * weights[i] for i in vectors) / total for d in range(dimension)]


def co_booking_scores(weights: Mapping[int, float], pairs: Iterable[tuple[int, int, int]]) -> dict[int, float]:
    """{listing: sum over the user's listings a of weight(a) x guests who booked both a and it}, the weights
    scaled so that the user's strongest listing counts 1."""
    strongest = max(weights.values(), default=0.0) or 1.0
    scores: dict[int, float] = {}
    for anchor, other, guests in pairs:
        if anchor in weights:
            scores[other] = scores.get(other, 0.0) + weights[anchor] / strongest * guests
    return scores


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) in degrees, in km (haversine)."""
    (lat1, lon1), (lat2, lon2) = (map(math.radians, a)), (map(math.radians, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Stays:
    """What the user's strongest listings say about where, in what and at what price they stay."""

    places: tuple[tuple[float, float], ...]
    room_types: Mapping[str, float]  # {room type: share of the weight}
    log_price: Optional[float]  # the weighted mean of ln(price); None: no priced listing

    @classmethod
    def of(cls, weights: Mapping[int, float], facts: Mapping[int, Facts]) -> "Stays":
        held = [listing for listing in weights if listing in facts]
        total = sum(weights[listing] for listing in held) or 1.0
        room_types: dict[str, float] = {}
        for listing in held:
            room_types[facts[listing].room_type] = room_types.get(facts[listing].room_type, 0.0) + weights[listing] / total
        priced = [listing for listing in held if (facts[listing].price or 0) > 0]
        priced_weight = sum(weights[listing] for listing in priced)
        log_price = sum(weights[listing] * math.log(facts[listing].price) for listing in priced) / priced_weight \
            if priced_weight else None
        return cls(tuple((facts[listing].latitude, facts[listing].longitude) for listing in held), room_types, log_price)

    def fit(self, facts: Facts, blend: Blend) -> float:
        """The place, room-type and price part of a listing's score."""
        score = blend.room_type * self.room_types.get(facts.room_type, 0.0)
        if self.places and blend.place:
            score -= blend.place * math.log1p(min(km_between(place, (facts.latitude, facts.longitude))
                                                  for place in self.places))
        if self.log_price is not None and (facts.price or 0) > 0:
            score -= blend.price * abs(math.log(facts.price) - self.log_price)
        return score


def blend_scores(content: Mapping[int, float], co_bookings: Mapping[int, float], popularity: Mapping[int, float],
                 blend: Blend = BLEND, fit: Mapping[int, float] | None = None) -> dict[int, float]:
    """A score for every listing in `content`, `co_bookings` or `popularity` (a missing figure: content's
    lowest, no co-bookings, no reviews, no fit)."""
    floor = min(content.values(), default=0.0)
    fit = fit or {}
    return {listing: blend.content * 100.0 * content.get(listing, floor)
            + blend.co_bookings * math.log1p(co_bookings.get(listing, 0.0))
            + blend.popularity * math.log1p(popularity.get(listing, 0.0))
            + fit.get(listing, 0.0)
            for listing in set(content) | set(co_bookings) | set(popularity)}


def best(scores: Mapping[int, float], exclude: Iterable[int], limit: int) -> list[int]:
    """The `limit` best-scored listings not excluded, best first; ties go to the smaller id (reproducible)."""
    excluded = set(exclude)
    return sorted((listing for listing in scores if listing not in excluded),
                  key=lambda listing: (-scores[listing], listing))[:limit]


def recommend(weights: Mapping[int, float], vectors: Mapping[int, Sequence[float]], sources: Sources,
              booked: Iterable[int], limit: int, blend: Blend = BLEND) -> list[int]:
    """The user's `limit` listings, best first, none of `booked`.

    `weights`: {listing: weight} of the user's history (signals.listing_weights); `vectors`: the vectors of
    some of its listings (the anchors'; a listing that went away has none)."""
    booked = set(booked)
    strongest = anchors(weights)
    held = {listing: vectors[listing] for listing in strongest if listing in vectors}
    content = sources.nearest(weighted_centroid(held, weights), CONTENT_POOL) if held else {}
    co = co_booking_scores({listing: weights[listing] for listing in strongest}, sources.co_bookings(strongest))
    candidates = set(content) | set(co) | set(sources.most_reviewed(POPULAR_POOL))
    stays = Stays.of({listing: weights[listing] for listing in strongest}, sources.facts(strongest))
    if stays.places and blend.place:
        candidates |= sources.near(stays.places, PLACE_POOL)
    facts = sources.facts(candidates - booked)  # one read for the reviews and the fit of every candidate
    fit = {listing: stays.fit(fact, blend) for listing, fact in facts.items()}
    scores = blend_scores(content, co, {listing: fact.reviews for listing, fact in facts.items()}, blend, fit)
    return best(scores, booked, limit)
