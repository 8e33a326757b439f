"""One search contract on real stores: pgvector (embedded Postgres, always) and Weaviate (when WEAVIATE_URL
is set). Same data, same queries, same answers: filters, sort, near-vector, keyword and hybrid ranking, and
the hit shape (CSV column names + score). Ranking is the server's, so it is not run on the fake Weaviate:
test_weaviate_store.py checks there what the store sends."""

import math
import uuid

import pytest

from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.stores.pgvector import PgVectorStore
from gfl_dagster.stores.weaviate import WeaviateStore
from gfl_dagster.search.retrieval import SearchQuery
from gfl_dagster_tests.test_weaviate_store import item, real_weaviate

# Exact in float32, pairwise distinct directions.
ROWS = [
    item(1, 1, "Manhattan", [1.0, 0.0, 0.0, 0.0], name="Skyline loft", price=150.0, number_of_reviews=40,
         reviews_per_month=1.0, minimum_nights=2, availability_365=200, last_review="2023-01-15"),
    item(2, 1, "Brooklyn", [0.75, 0.5, 0.0, 0.0], name="Quiet garden room", room_type="Private room",
         price=80.0, number_of_reviews=120, reviews_per_month=2.5, minimum_nights=1, availability_365=10,
         last_review="2022-06-01"),
    item(3, 1, "Brooklyn", [0.0, 1.0, 0.0, 0.0], name="Zeppelin hangar studio", price=120.0, number_of_reviews=7,
         reviews_per_month=None, last_review=None, minimum_nights=3, availability_365=365),
    item(4, 1, "Brooklyn", [0.5, 0.0, 0.5, 0.0], name="Bright room by the park", room_type="Private room",
         price=60.0, number_of_reviews=55, reviews_per_month=0.25, minimum_nights=5, availability_365=90),
    item(5, 1, "Queens", [0.0, 0.0, 1.0, 0.0], name="Family house", price=95.0, number_of_reviews=0,
         reviews_per_month=None, last_review=None, minimum_nights=30, availability_365=0),
    item(6, 1, "Brooklyn", [0.25, 0.25, 0.0, 1.0], name="Shared bunk", room_type="Shared room", price=35.0,
         number_of_reviews=3, reviews_per_month=0.125, minimum_nights=1, availability_365=300,
         last_review="2023-03-01"),
    item(7, 1, "Manhattan", [0.5, 0.5, 0.5, 0.5], name="Midtown hotel room", room_type="Hotel room", price=210.0,
         number_of_reviews=300, reviews_per_month=4.0, minimum_nights=1, availability_365=50,
         last_review="2021-12-31"),
]
PROPERTIES = {listing.key: listing.properties for listing in ROWS}


@pytest.fixture(params=["pgvector", "weaviate"])
def store(request):
    if request.param == "pgvector":
        store = PgVectorStore(request.getfixturevalue("engine"), LISTINGS)
    else:
        url, api_key = real_weaviate("the search contract (ranking is the server's, so not faked)")
        store = WeaviateStore(url, api_key, LISTINGS, f"GflSearch{uuid.uuid4().hex[:12]}")
    store.ensure(4, "test-model")
    store.upsert(ROWS)
    yield store
    if isinstance(store, WeaviateStore):
        store.client.collections.delete(store.collection_name)
    store.close()


def ids(hits):
    return [hit["id"] for hit in hits]


def by_cosine(vector, listing_ids):
    def similarity(listing_id):
        other = next(listing.vector for listing in ROWS if listing.key == listing_id)
        dot = sum(a * b for a, b in zip(vector, other))
        return dot / math.sqrt(sum(a * a for a in vector) * sum(b * b for b in other))
    return sorted(listing_ids, key=similarity, reverse=True)


def test_hits_carry_the_stored_properties_under_csv_names(store):
    hits = store.search(SearchQuery(text="any", limit=10), [1.0, 0.0, 0.0, 0.0])
    assert sorted(ids(hits)) == sorted(PROPERTIES)
    for hit in hits:
        assert {key: value for key, value in hit.items() if key != "score"} == PROPERTIES[hit["id"]]
        assert isinstance(hit["score"], float)


def test_structured_query_filters_and_sorts_without_a_vector(store):
    most_reviewed = store.search(SearchQuery(borough="Brooklyn", sort="number_of_reviews", limit=3), None)
    assert ids(most_reviewed) == [2, 4, 3]
    assert all(hit["score"] is None for hit in most_reviewed)
    cheapest = store.search(SearchQuery(min_price=60, max_price=120, sort="price:asc"), None)
    assert ids(cheapest) == [4, 2, 5, 3]  # bounds are inclusive
    # Listings without a value for the sort field are left out (3 and 5 have no reviews per month).
    assert ids(store.search(SearchQuery(sort="reviews_per_month:asc", limit=10), None)) == [6, 4, 1, 2, 7]
    assert ids(store.search(SearchQuery(sort="last_review", limit=10), None)) == [6, 1, 2, 7, 4]
    assert ids(store.search(SearchQuery(room_type="Private room"), None)) == [2, 4]  # no sort: by id
    assert ids(store.search(SearchQuery(min_nights=2, max_nights=5, min_availability=100), None)) == [1, 3]
    assert ids(store.search(SearchQuery(min_reviews=50, min_reviews_per_month=1.0), None)) == [2, 7]
    assert store.search(SearchQuery(borough="Atlantis"), None) == []


def test_set_filters_keep_any_of_and_none_of(store):
    assert ids(store.search(SearchQuery(areas=("Queens", "Manhattan")), None)) == [1, 5, 7]
    assert ids(store.search(SearchQuery(not_areas=("Brooklyn",)), None)) == [1, 5, 7]
    assert ids(store.search(SearchQuery(room_types=("Private room", "Shared room")), None)) == [2, 4, 6]
    assert ids(store.search(SearchQuery(not_room_types=("Entire home/apt", "Hotel room")), None)) == [2, 4, 6]
    assert ids(store.search(SearchQuery(areas=("Brooklyn",), not_room_types=("Shared room",), max_price=100),
                            None)) == [2, 4]
    vector = [1.0, 0.0, 0.0, 0.0]
    hits = store.search(SearchQuery(text="x", not_areas=("Manhattan", "Queens"), limit=10), vector)
    assert ids(hits) == by_cosine(vector, [2, 3, 4, 6])


def test_semantic_ranks_by_cosine_similarity(store):
    vector = [0.0, 1.0, 0.0, 0.0]
    hits = store.search(SearchQuery(text="x", limit=3), vector)
    assert ids(hits) == by_cosine(vector, list(PROPERTIES))[:3]
    assert hits[0]["id"] == 3 and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_semantic_with_filters_returns_every_match_ranked(store):
    vector = [1.0, 0.0, 0.0, 0.0]
    query = SearchQuery(text="x", borough="Brooklyn", max_price=100, limit=10)
    hits = store.search(query, vector)
    assert ids(hits) == by_cosine(vector, [2, 4, 6])
    assert all(h["neighbourhood_group"] == "Brooklyn" and h["price"] <= 100 for h in hits)
    assert ids(store.search(SearchQuery(text="x", room_type="Hotel room"), vector)) == [7]


def test_keyword_finds_the_rare_word(store):
    hits = store.search(SearchQuery(text="zeppelin", mode="keyword"), None)
    assert ids(hits)[:1] == [3] and hits[0]["score"] > 0
    assert store.search(SearchQuery(text="zeppelin", mode="keyword", borough="Queens"), None) == []


def test_hybrid_alpha_moves_between_vector_and_keyword(store):
    far_from_zeppelin = [0.0, 0.0, 1.0, 0.0]
    pure_vector = store.search(SearchQuery(text="zeppelin", mode="hybrid", alpha=1.0, limit=3), far_from_zeppelin)
    assert ids(pure_vector) == by_cosine(far_from_zeppelin, list(PROPERTIES))[:3]
    pure_keyword = store.search(SearchQuery(text="zeppelin", mode="hybrid", alpha=0.0), far_from_zeppelin)
    assert ids(pure_keyword)[:1] == [3]
    filtered = store.search(SearchQuery(text="zeppelin", mode="hybrid", alpha=0.3, borough="Brooklyn"),
                            far_from_zeppelin)
    assert ids(filtered)[0] == 3 and {h["neighbourhood_group"] for h in filtered} == {"Brooklyn"}
    assert all(isinstance(h["score"], float) for h in filtered)
