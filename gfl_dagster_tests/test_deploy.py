"""deploy/: the Helm values configure what production coordination needs, in a form Dagster accepts; the
Dockerfile builds from real paths; and `gfl bench scale` times a tick of the real sensor that found the
changes it was given (on the session's real Postgres)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance

from gfl_dagster import settings
from gfl_dagster_bench import scale
from gfl_dagster_tests.conftest import BUNDLED_CSV, HEADER_18, PROJECT_DIR, write_csv

DEPLOY = PROJECT_DIR / "deploy"


def helm_values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def queued_run_coordinator_yaml(values: dict) -> dict:
    """The run_coordinator config the chart renders from these values (templates/helpers/instance/_run-coordinator.tpl)."""
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    return {"max_concurrent_runs": queued["maxConcurrentRuns"],
            "tag_concurrency_limits": queued["tagConcurrencyLimits"],
            "dequeue_interval_seconds": queued["dequeueIntervalSeconds"]}


def test_helm_values_queue_runs_one_per_area_under_a_global_cap():
    from dagster._config import process_config
    from dagster._core.run_coordinator import QueuedRunCoordinator

    values = helm_values()
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] and coordinator["type"] == "QueuedRunCoordinator"
    rendered = queued_run_coordinator_yaml(values)
    checked = process_config(QueuedRunCoordinator.config_type(), rendered)
    assert checked.success, checked.errors
    assert rendered["max_concurrent_runs"] >= 1
    # The sensor's runs carry their area as dagster/partition: one at a time per distinct value.
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in \
        rendered["tag_concurrency_limits"]


def test_helm_values_limit_the_llm_pool_and_launch_runs_on_kubernetes_with_external_postgres():
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config_schema

    values = helm_values()
    pools = values["concurrency"]["pools"]
    assert values["concurrency"]["enabled"] and pools["defaultLimit"] >= 1
    checked = process_config(dagster_instance_config_schema(),
                             {"concurrency": {"pools": {"default_limit": pools["defaultLimit"]}}})
    assert checked.success, checked.errors
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    assert "postgresqlPassword" not in values["postgresql"]  # the password lives in the Secret only


def test_helm_values_serve_the_code_location_with_settings_the_project_reads():
    deployment, = helm_values()["dagster-user-deployments"]["deployments"]
    assert deployment["codeServerArgs"] == ["-m", "gfl_dagster.definitions"]
    names = {getattr(settings, name) for name in dir(settings) if name.isupper() and isinstance(getattr(settings, name), str)}
    for variable in deployment["env"]:
        assert variable["name"] in names, f"{variable['name']} is not a setting gfl_dagster/settings.py reads"
        assert variable["name"] not in (settings.DATABASE_URL, settings.OPENAI_API_KEY, settings.WEAVIATE_API_KEY), \
            f"{variable['name']} is a secret: it belongs in the gfl-secrets Secret, not in values.yaml"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    return [tuple(line.split(None, 1)) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_copies_real_paths_runs_as_a_user_and_bakes_in_no_secret():
    instructions = dockerfile_instructions()
    sources = [argument.split()[0] for op, argument in instructions if op == "COPY"]
    assert sources and all(part for part in sources)
    for line in (argument for op, argument in instructions if op == "COPY"):
        for source in line.split()[:-1]:
            assert (PROJECT_DIR / source).exists(), f"deploy/Dockerfile copies {source}, which the repository lacks"
    user, = [argument for op, argument in instructions if op == "USER"]
    assert user.strip() not in ("root", "0")
    baked = " ".join(argument for op, argument in instructions if op in ("ENV", "ARG"))
    for secret in (settings.DATABASE_URL, settings.OPENAI_API_KEY, settings.WEAVIATE_API_KEY):
        assert secret not in baked
    # A deployment writes to its owner's listings table only when someone names a file to load.
    assert settings.GFL_CSV not in baked


def test_dockerfile_serves_a_module_that_loads_the_code_location():
    command, = [argument for op, argument in dockerfile_instructions() if op == "CMD"]
    module = command[command.index('"-m", "') + len('"-m", "'):].split('"')[0]
    assert module == "gfl_dagster.definitions"
    assert importlib.import_module(module).defs.get_repository_def().get_all_jobs()


def test_partitions_per_city_follow_gfl_area(engine, tmp_path: Path):
    new_york = scale.city_partitions(engine, BUNDLED_CSV)
    assert new_york["partitions"] == 5 and new_york["largest_partition"] == "Manhattan"
    assert new_york["listings"] == 2176 and 0.3 < new_york["largest_share"] < 0.6
    # No borough: the neighbourhood is the partition, and a blank borough counts as none.
    city = write_csv(tmp_path / "city.csv", HEADER_18,
                     "1,a,1,h,,Gràcia,41.4,2.15,Private room,50,1,0,,,1,10,0,",
                     "2,b,1,h, ,Gràcia,41.4,2.15,Private room,50,1,0,,,1,10,0,",
                     "3,c,1,h,,Sants,41.4,2.15,Private room,50,1,0,,,1,10,0,")
    summary = scale.city_partitions(engine, city)
    assert (summary["partitions"], summary["largest_partition"], summary["largest_partition_listings"]) == \
        (2, "Gràcia", 2)


def test_initial_sync_is_bounded_by_workers_and_by_the_largest_area():
    # 1M listings at 100/s: half of them in one area, so 10 workers cannot beat that area's own run.
    assert scale.initial_sync_hours(1_000_000, 0.5, 5, 10, 100.0) == pytest.approx(500_000 / 100 / 3600)
    # One worker does it all; workers beyond the partition count do not help.
    assert scale.initial_sync_hours(1_000_000, 0.2, 5, 1, 100.0) == pytest.approx(10_000 / 3600)
    assert scale.initial_sync_hours(1_000_000, 0.2, 5, 50, 100.0) == scale.initial_sync_hours(
        1_000_000, 0.2, 5, 5, 100.0)


def test_tick_timings_come_from_a_sensor_that_found_the_burst(database, engine):
    instance = DagsterInstance.ephemeral()
    scale.fill_listings(engine, 3000, areas=12)
    measured = scale.measure_ticks(instance, database, burst=40, ticks=2)
    cases = measured["cases"]
    assert set(cases) == {"idle", "idle_sweep", "burst", "burst_sweep"}
    assert 1 <= measured["burst_areas"] <= 12
    for name, timing in cases.items():
        assert timing["tick_ms"] > 0 and timing["changed_rows_ms"] > 0
        assert ("pending_sweep_ms" in timing) == name.endswith("_sweep")
    # After the measurement every listing is synced again, so a second size starts clean.
    with engine.connect() as connection:
        assert connection.exec_driver_sql(
            "SELECT count(*) FROM listings l JOIN listing_sync s ON s.listing_id = l.id "
            "AND s.synced_version = l.version").scalar_one() == 3000


def test_a_tick_that_misses_changes_fails_the_benchmark(database, engine):
    scale.fill_listings(engine, 1000, areas=3)
    with engine.connect() as connection:
        horizon = connection.exec_driver_sql("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").scalar_one()
    with pytest.raises(scale.ScaleBenchError, match="requested runs for 0 areas, expected 1"):
        scale.time_case(DagsterInstance.ephemeral(), database, horizon, sweep=True, ticks=1,
                        expect=(5, {"Area 0001"}))
