"""Simulated guests for `gfl bench recommend`: stays drawn from a hidden taste over real listings.

Each guest has a hidden taste: a home neighbourhood, a room type and a budget. A stay picks a listing the guest
has not stayed in with probability proportional to

    exp(place * [its neighbourhood is the guest's] + room * [its room type is the guest's]
        - price * |ln(its price / the guest's budget)|) * (1 + its reviews in the file) ** appeal

The recommender and the baselines see only the stays, never the taste or the weights (the `Taste`), and are
judged leave-last-out as the real guests are; the oracle ranks by the truth itself. With no taste (all
weights 0 but `appeal`) everyone picks by appeal alone and popularity is as good as anything: the gain a
recommender shows comes from the taste, which a test checks.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from gfl_dagster_bench.recommend_guests import Stay

START = dt.date(2020, 1, 1)


@dataclass(frozen=True)
class Taste:
    """The simulation's hidden truth: how strongly each of a guest's preferences draws them."""

    place: float = 2.0
    room: float = 1.5
    price: float = 1.5
    appeal: float = 0.5
    repeat_share: float = 0.4  # guests with two or more stays
    mean_extra_stays: float = 1.0  # beyond the second, on average


NO_TASTE = Taste(place=0.0, room=0.0, price=0.0)
# The truths the benchmark reports: the default (written before any run), a stronger taste (added after the
# default's dev figures showed appeal dominating it), and none (the control).
TRUTHS = {"default": Taste(), "strong_taste": Taste(place=3.0, room=2.0, price=2.0), "no_taste": NO_TASTE}


@dataclass(frozen=True)
class SimulatedGuest:
    guest: int
    neighbourhood: str
    room_type: str
    budget: float


class Market:
    """The listings as the simulation sees them: facts in arrays, one row per listing."""

    def __init__(self, listings: Sequence[Mapping]):
        priced = [row for row in listings if row.get("price") and float(row["price"]) > 0]
        self.ids = np.array([int(row["id"]) for row in priced])
        self.neighbourhoods = np.array([row.get("neighbourhood") or row.get("neighbourhood_group") or ""
                                        for row in priced])
        self.room_types = np.array([row["room_type"] for row in priced])
        self.log_prices = np.log(np.array([float(row["price"]) for row in priced]))
        self.reviews = np.array([float(row.get("number_of_reviews") or 0) for row in priced])

    def log_weights(self, guest: SimulatedGuest, taste: Taste) -> np.ndarray:
        return (taste.place * (self.neighbourhoods == guest.neighbourhood)
                + taste.room * (self.room_types == guest.room_type)
                - taste.price * np.abs(self.log_prices - math.log(guest.budget))
                + taste.appeal * np.log1p(self.reviews))


def make_guests(market: Market, count: int, rng: np.random.Generator) -> list[SimulatedGuest]:
    """Guests whose tastes follow the listings: a neighbourhood, room type and budget of a random listing."""
    picks = rng.integers(0, len(market.ids), size=count)
    return [SimulatedGuest(n + 1, str(market.neighbourhoods[i]), str(market.room_types[i]),
                           float(math.exp(market.log_prices[i]) * math.exp(rng.normal(0.0, 0.3))))
            for n, i in enumerate(picks)]


def simulate_stays(market: Market, guests: Sequence[SimulatedGuest], taste: Taste, seed: int) -> list[Stay]:
    """Each guest's stays, one a month from START, each in a listing they have not stayed in."""
    rng = np.random.default_rng(seed)
    stays: list[Stay] = []
    review_id = 0
    for guest in guests:
        count = 1 if rng.random() >= taste.repeat_share else 2 + int(rng.poisson(taste.mean_extra_stays))
        log_weights = market.log_weights(guest, taste)
        weights = np.exp(log_weights - log_weights.max())
        for month in range(min(count, len(market.ids))):
            index = int(rng.choice(len(market.ids), p=weights / weights.sum()))
            weights[index] = 0.0
            review_id += 1
            stays.append(Stay(guest.guest, int(market.ids[index]), START + dt.timedelta(days=30 * month), review_id))
    return stays


def oracle_ranking(market: Market, guest: SimulatedGuest, taste: Taste, exclude: set[int], limit: int) -> list[int]:
    """The truth's own top listings for the guest: the ceiling no recommender can pass on average."""
    order = np.argsort(-market.log_weights(guest, taste), kind="stable")
    return [int(market.ids[i]) for i in order if int(market.ids[i]) not in exclude][:limit]
