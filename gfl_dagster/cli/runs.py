"""Running the asset graph from the command line, recorded in the project's Dagster instance.

Runs started here show up in the Dagster UI next to sensor- and UI-launched runs.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from dagster import DagsterInstance, build_resources, materialize

from gfl_dagster import settings
from gfl_dagster.dagster_instance import prepare_dagster_home

_QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def project_instance() -> DagsterInstance:
    """The project's Dagster instance, its storages created before any daemon starts.

    The daemon's threads otherwise create the sqlite schedule storage concurrently
    and can leave it with two migration heads.
    """
    prepare_dagster_home()
    instance = DagsterInstance.get()
    instance.all_instigator_state()
    instance.get_runs(limit=1)
    return instance


def _definitions():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gfl_dagster.definitions import defs
    return defs


@contextmanager
def project_resources() -> Iterator[Any]:
    """The same resources the code location uses (env-configured), initialized: the database is started."""
    with build_resources(_definitions().resources) as resources:
        yield resources


def _asset_metadata(result, asset: str) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset:
            return {key: value.value for key, value in event.materialization.metadata.items()}
    return {}


def run_load(instance: DagsterInstance, csv_path: Optional[str], limit: Optional[int]) -> dict[str, Any]:
    defs = _definitions()
    config = {k: v for k, v in {"csv_path": csv_path, "limit": limit}.items() if v is not None}
    result = materialize(
        [defs.get_assets_def("raw_listings")], instance=instance, resources=defs.resources,
        run_config={"ops": {"raw_listings": {"config": config}}, **_QUIET},
    )
    return _asset_metadata(result, "raw_listings")


def run_area_sync(instance: DagsterInstance, area: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, bool]]:
    """Describe and embed one area, with its checks; returns both assets' metadata and check outcomes."""
    defs = _definitions()
    graph = defs.resolve_asset_graph()
    # Materializable assets only: feedback_events is written by the page and the CLI, not by Dagster.
    assets = [defs.get_assets_def(key) for key in graph.get_all_asset_keys() if graph.get(key).is_materializable]
    checks = list(defs.asset_checks or [])
    result = materialize(
        assets + checks, selection=["listing_descriptions", "listing_vectors"], partition_key=area,
        instance=instance, resources=defs.resources, run_config=_QUIET, tags={"gfl/source": "cli"},
    )
    outcomes = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    return _asset_metadata(result, "listing_descriptions"), _asset_metadata(result, "listing_vectors"), outcomes


def sync_all(
    instance: DagsterInstance, areas: list[str], echo: Callable[[str], None]
) -> list[tuple[str, dict[str, Any], dict[str, Any], dict[str, bool]]]:
    results = []
    for number, area in enumerate(areas, start=1):
        described, embedded, checks = run_area_sync(instance, area)
        failed_checks = [name for name, passed in checks.items() if not passed]
        echo(
            f"[{number}/{len(areas)}] {area}: {described.get('rows_seen', 0)} listings, "
            f"{described.get('generated', 0)} described, {embedded.get('embedded', 0)} embedded, "
            f"{embedded.get('properties_updated', 0)} updated, {embedded.get('deleted', 0)} deleted, "
            f"{described.get('failed', 0) + embedded.get('failed', 0)} failed in "
            f"{described.get('duration_s', 0) + embedded.get('duration_s', 0):.1f}s"
            + (f"; FAILED CHECKS: {', '.join(failed_checks)}" if failed_checks else "")
        )
        results.append((area, described, embedded, checks))
    return results
