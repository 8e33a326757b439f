"""`gfl bench recommend`'s parts on hand-made stays: the metrics computed by hand, leave-last-out, no leakage of
the hidden review into popularity, no recommendation of a listing the guest reviewed, and a simulation whose
outcome follows its hidden taste. Pure: no database, no embedder."""

import datetime as dt
import math
from collections import Counter

import numpy as np
import pytest

from gfl_dagster_bench.recommend import Catalogue, evaluate, listing_facts, rankers
from gfl_dagster_bench.recommend_guests import (
    HeldOut,
    Stay,
    hit_at,
    leave_last_out,
    ndcg_at,
    review_counts,
    split_fingerprint,
    split_of,
)
from gfl_dagster_bench.recommend_sim import NO_TASTE, Market, Taste, make_guests, simulate_stays
from gfl_dagster.listings.csv_rows import parse_csv
from gfl_dagster.recommendations import ranking
from gfl_dagster.recommendations.co_bookings import co_booking_counts
from gfl_dagster_tests.conftest import BUNDLED_CSV

DAY = dt.date(2023, 1, 1)


def stay(guest, listing, day, review_id):
    return Stay(guest, listing, DAY + dt.timedelta(days=day), review_id)


def test_hit_and_ndcg_at_k_by_hand():
    ranked = [7, 3, 9, 4]
    assert hit_at(ranked, 7, 10) == ndcg_at(ranked, 7, 10) == 1.0
    assert hit_at(ranked, 9, 10) == 1.0 and ndcg_at(ranked, 9, 10) == pytest.approx(0.5)  # 1 / log2(4)
    assert ndcg_at(ranked, 3, 10) == pytest.approx(1 / math.log2(3))
    assert hit_at(ranked, 4, 3) == ndcg_at(ranked, 4, 3) == 0.0, "past k counts nothing"
    assert hit_at(ranked, 99, 10) == ndcg_at(ranked, 99, 10) == 0.0


def test_leave_last_out_hides_the_last_new_listing_with_every_review_of_it():
    stays = [stay(1, 10, 0, 1), stay(1, 20, 5, 2), stay(1, 10, 9, 3), stay(1, 20, 12, 4),  # 20 is the last new
             stay(2, 30, 0, 5), stay(2, 30, 3, 6),  # one listing twice: nothing new to hide
             stay(3, 40, 1, 8), stay(3, 50, 1, 7),  # same day: the later review id is the later stay
             stay(4, 10, 2, 9)]
    result = leave_last_out(stays)
    assert result.repeat_guests == 3 and result.one_listing_guests == 1
    assert {(case.guest, case.hidden) for case in result.judged} == {(1, 20), (3, 40)}
    first = next(case for case in result.judged if case.guest == 1)
    assert first.reviewed == {10} and [s.review_id for s in first.history] == [1, 3]
    assert sorted(s.review_id for s in result.training) == [1, 3, 5, 6, 7, 9], "the hidden reviews are not trained on"


def test_the_split_is_fixed_by_the_reviewer_id_and_fingerprinted():
    assert {split_of(guest) for guest in range(1, 50)} == {"dev", "test"}
    assert [split_of(guest) for guest in range(1, 50)] == [split_of(guest) for guest in range(1, 50)]
    cases = [HeldOut(guest, (), 1, DAY) for guest in range(1, 50)]
    assert split_fingerprint(cases, "test") == split_fingerprint(list(reversed(cases)), "test")
    assert split_fingerprint(cases, "test") != split_fingerprint(cases[1:], "test") or split_of(1) == "dev"


def _catalogue(training, ids, vectors=None):
    vectors = np.eye(len(ids), dtype=np.float32) if vectors is None else np.asarray(vectors, dtype=np.float32)
    same = ranking.Facts(1.3, 103.8, "Private room", 80.0)  # one place, room type and price: content decides
    return Catalogue.build(ids, vectors, training, {listing: same for listing in ids})


def test_popularity_counts_the_training_reviews_only():
    # 99 is everyone's hidden listing and the most reviewed of the file; trained on, it would lead popularity.
    stays = [stay(g, 1, 0, 10 * g) for g in range(1, 6)] + [stay(g, 99, 5, 10 * g + 1) for g in range(1, 6)]
    stays += [stay(100 + g, 2, 0, 1000 + g) for g in range(3)]
    judged = leave_last_out(stays)
    assert {case.hidden for case in judged.judged} == {99}
    assert review_counts(judged.training)[99] == 0
    catalogue = _catalogue(judged.training, [1, 2, 3, 99])
    popular = rankers(catalogue)["popularity"]
    assert popular(judged.judged[0])[:2] == [2, 3], "never-reviewed 99 comes after what training saw"
    assert evaluate(judged, catalogue)["dev" if split_of(1) == "dev" else "test"]["methods"]["popularity"]


def test_no_method_recommends_a_listing_the_guest_reviewed():
    # Guest 1 reviewed 1 and 2; 2 is nearest to 1, the most reviewed and co-reviewed with 1 by everyone.
    stays = [stay(1, 1, 0, 1), stay(1, 2, 1, 2), stay(1, 5, 2, 3)]
    stays += [s for g in range(2, 8) for s in (stay(g, 1, 0, 10 * g), stay(g, 2, 1, 10 * g + 1))]
    stays += [stay(9, 3, 0, 100), stay(9, 4, 1, 101)]
    judged = leave_last_out(stays)
    case = next(case for case in judged.judged if case.guest == 1)
    assert case.reviewed == {1, 2} and case.hidden == 5
    vectors = [[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0]]
    catalogue = _catalogue(judged.training, [1, 2, 3, 4, 5], vectors)
    for name, rank in rankers(catalogue).items():
        ranked = rank(case)
        assert not {1, 2} & set(ranked), name
        assert set(ranked) == {3, 4, 5}, f"{name} ranks every listing the guest has not reviewed"
    assert rankers(catalogue)["project"](case)[0] == 5, "the listing most like the guest's comes first"


def test_co_bookings_count_each_guest_once_per_pair():
    counts = co_booking_counts([("a", 1), ("a", 2), ("a", 1), ("b", 2), ("b", 1), ("c", 3)])
    assert counts == Counter({(1, 2): 2, (2, 1): 2})


@pytest.fixture(scope="module")
def rows():
    return [{**row, "area": row["neighbourhood_group"]} for row in parse_csv(BUNDLED_CSV).rows]


@pytest.fixture(scope="module")
def market(rows):
    return Market(rows)


def _fact_vectors(market):
    """Stand-ins for the listings' embeddings (the test is about the simulation, not the embedder): a listing's
    neighbourhood and room type, one-hot, and its price."""
    places, rooms = sorted(set(market.neighbourhoods)), sorted(set(market.room_types))
    vectors = np.zeros((len(market.ids), len(places) + len(rooms) + 1), dtype=np.float32)
    for n in range(len(market.ids)):
        vectors[n, places.index(market.neighbourhoods[n])] = 1.0
        vectors[n, len(places) + rooms.index(market.room_types[n])] = 1.0
        vectors[n, -1] = market.log_prices[n] / 5
    return vectors


def _project_over_popularity(market, rows, taste):
    guests = make_guests(market, 1500, np.random.default_rng(3))
    judged = leave_last_out(simulate_stays(market, guests, taste, seed=3))
    result = evaluate(judged, Catalogue.build(market.ids, _fact_vectors(market), judged.training, listing_facts(rows)))
    hits = {name: np.mean([result[split]["methods"][name]["hit@10"] for split in ("dev", "test")])
            for name in ("project", "popularity")}
    return hits["project"] / hits["popularity"]


def test_the_simulated_outcome_follows_the_hidden_taste(market, rows):
    """With a taste, what a guest stayed in says where they go next, and the recommender gains on popularity;
    with none (everyone picks by appeal), it has nothing to find."""
    with_taste = _project_over_popularity(market, rows, Taste())
    without = _project_over_popularity(market, rows, NO_TASTE)
    assert with_taste > 1.5 and with_taste > without + 0.5, (with_taste, without)


def test_the_place_room_type_and_price_of_a_guests_stays_lead_among_equals():
    """Listings alike in text and reviews: a guest who stayed in a cheap private room in one corner of town is
    recommended the cheap private room near it first; among the rest, what is near, and what is like their stay."""
    here, near, there = (1.30, 103.85), (1.301, 103.851), (1.40, 103.95)  # there: about 16 km away
    listings = {1: (here, "Private room", 60.0),  # the guest's stay
                2: (there, "Entire home/apt", 400.0), 3: (there, "Private room", 62.0),
                4: (near, "Entire home/apt", 400.0), 5: (there, "Shared room", 20.0),
                6: (here, "Private room", 65.0), 9: (there, "Shared room", 20.0)}  # 9: hidden
    facts = {listing: ranking.Facts(*place, room, price) for listing, (place, room, price) in listings.items()}
    stays = [stay(1, 1, 0, 1), stay(1, 9, 1, 2)]
    stays += [stay(100 + 10 * listing + n, listing, 0, 1000 + 10 * listing + n) for listing in range(2, 7)
              for n in range(3)]  # three one-stay guests each: the same reviews, no co-bookings
    judged = leave_last_out(stays)
    (case,) = judged.judged
    catalogue = Catalogue.build(list(listings), np.ones((len(listings), 3), dtype=np.float32), judged.training,
                                facts)
    blend = ranking.Blend(content=0.5, co_bookings=4.0, popularity=2.0, place=2.0, room_type=2.0, price=2.0)
    ranked = rankers(catalogue, blend)["project"](case)
    assert ranked[0] == 6, ranked
    assert ranked.index(4) < ranked.index(2), "the same room type and price: the nearer first"
    assert ranked.index(3) < ranked.index(2) < ranked.index(9), "as far: the room type and price of the stay first"
    assert rankers(catalogue, ranking.Blend(0.5, 4.0, 2.0))["project"](case)[0] == 2, \
        "without place, room type and price, the listings tie (the smaller id first)"
