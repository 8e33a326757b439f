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


def run_load(instance: DagsterInstance, csv_path: Optional[str], limit: Optional[int],
             progress: Callable[[int, int], None] = lambda done, total: None) -> dict[str, Any]:
    """Load a CSV into `listings` from this process, `progress(rows written, rows)` as it goes; recorded in
    Dagster as a materialization of raw_listings, with the metadata a run of it records."""
    from dagster import AssetMaterialization

    from gfl_dagster.listings.assets import load_metadata, source_file
    from gfl_dagster.listings.load import load_listings_csv
    from gfl_dagster.listings.partitions import register_areas

    with project_resources() as resources:
        report = load_listings_csv(resources.database.engine(), source_file(csv_path), limit, progress)
    metadata = load_metadata(report, register_areas(instance, report.areas))
    instance.report_runless_asset_event(AssetMaterialization("raw_listings", metadata=metadata,
                                                             description="Loaded from the command line"))
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def run_review_load(instance: DagsterInstance, path: str, limit: Optional[int],
                    progress: Callable[[int, int], None] = lambda done, total: None) -> dict[str, Any]:
    """Load a reviews file into `reviews` (and each review's stay) from this process, as run_load does a
    listings file: recorded in Dagster as a materialization of the `reviews` asset."""
    from dagster import AssetMaterialization

    from gfl_dagster.reviews.assets import review_load_metadata
    from gfl_dagster.reviews.load import load_reviews_file

    with project_resources() as resources:
        report = load_reviews_file(resources.database.engine(), path, limit, progress)
    metadata = review_load_metadata(report)
    instance.report_runless_asset_event(AssetMaterialization("reviews", metadata=metadata,
                                                             description="Loaded from the command line"))
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


SEARCHABLE = ("listing_descriptions", "guest_summaries", "listing_vectors")  # what search needs of an area
AREA_ASSETS = (*SEARCHABLE, "listing_ads")  # every asset partitioned by area, in the graph's order


def _materialize(instance: DagsterInstance, selection: list[str], partition: Optional[str]):
    defs = _definitions()
    graph = defs.resolve_asset_graph()
    # Materializable assets only: feedback_events is written by the page and the CLI, not by Dagster.
    assets = [defs.get_assets_def(key) for key in graph.get_all_asset_keys() if graph.get(key).is_materializable]
    return materialize(
        assets + list(defs.asset_checks or []), selection=selection, partition_key=partition, instance=instance,
        resources=defs.resources, run_config=_QUIET, tags={"gfl/source": "cli"},
    )


def run_area_sync(instance: DagsterInstance, area: str, assets: tuple[str, ...] = AREA_ASSETS) -> dict[str, Any]:
    """One area's `assets` with their checks: each asset's metadata by name, and "checks": outcome by check."""
    result = _materialize(instance, list(assets), area)
    return {**{asset: _asset_metadata(result, asset) for asset in assets},
            "checks": {e.check_name: e.passed for e in result.get_asset_check_evaluations()}}


def area_line(area: str, synced: dict[str, Any]) -> str:
    from gfl_dagster.cli.common import counted

    described, embedded = synced["listing_descriptions"], synced["listing_vectors"]
    summarized = synced.get("guest_summaries", {})
    ads = synced.get("listing_ads")
    failed_checks = [name for name, passed in synced["checks"].items() if not passed]
    seconds = sum(synced[asset].get("duration_s", 0) for asset in synced if asset != "checks")
    return (f"{area}: {counted(described.get('rows_seen', 0), 'listing')}, "
            f"{described.get('generated', 0)} described, "
            f"{summarized.get('summaries_written', 0)} guest summaries, "
            f"{embedded.get('embedded', 0)} embedded, {embedded.get('properties_updated', 0)} updated, "
            f"{embedded.get('deleted', 0)} deleted, "
            + ("" if ads is None else f"{ads.get('generated', 0)} ads written, {ads.get('retired', 0)} retired, ")
            + f"{described.get('failed', 0) + embedded.get('failed', 0) + (ads or {}).get('failed', 0)} failed "
            f"in {seconds:.1f}s" + (f"; FAILED CHECKS: {', '.join(failed_checks)}" if failed_checks else ""))


def sync_all(instance: DagsterInstance, areas: list[str], echo: Callable[[str], None],
             assets: tuple[str, ...] = AREA_ASSETS) -> list[tuple[str, dict[str, Any]]]:
    """Each area in turn, progress shown (listings synced out of those pending, rate, time left, the area)."""
    from gfl_dagster.cli.progress import PendingWork, Progress, Watcher, pending_by_area
    from gfl_dagster.cli.project import ProjectClients
    from gfl_dagster.cli.signals import raise_if_stopping

    engine = ProjectClients().engine()
    work, current = PendingWork(), {"area": ""}
    results = []
    with Progress("syncing", "listings") as progress:
        def look() -> None:
            pending = pending_by_area(engine)
            progress.update(*work.seen(sum(pending.get(area, 0) for area in areas)), current["area"])

        look()
        with Watcher(look):
            for number, area in enumerate(areas, start=1):
                current["area"] = f"{area} ({number}/{len(areas)} areas)"
                raise_if_stopping()  # a signal Dagster swallowed at the end of the last run still stops us here
                synced = run_area_sync(instance, area, assets)
                line = f"[{number}/{len(areas)}] {area_line(area, synced)}"
                progress.echo(line) if progress.live else echo(line)
                results.append((area, synced))
        current["area"] = "done"
        look()
    return results


def refresh_recommendations(instance: DagsterInstance, echo: Callable[[str], None]) -> list[tuple[str, dict]]:
    """listing_co_bookings when newer bookings arrived, then user_recommendations for each user bucket with a
    user whose events (or recommended listings) changed."""
    from gfl_dagster.cli.common import counted
    from gfl_dagster.cli.project import ProjectClients
    from gfl_dagster.db import queries
    from gfl_dagster.cli.signals import raise_if_stopping
    from gfl_dagster.search import recommendation as advice

    with ProjectClients().engine().connect() as connection:
        co_bookings_due = connection.execute(queries.CO_BOOKINGS_DUE, {"min_age_s": 0}).scalar() is not None
        buckets = [row.bucket for row in connection.execute(
            queries.BUCKETS_TO_REFRESH, {"prompt_version": advice.RECOMMENDATION_PROMPT_VERSION})]
    if co_bookings_due:  # first: the users' refreshes read them
        built = _asset_metadata(_materialize(instance, ["listing_co_bookings"], None), "listing_co_bookings")
        echo(f"co-bookings: {built.get('pairs', 0)} pairs of listings from {counted(built.get('guests', 0), 'guest')}"
             f" in {built.get('duration_s', 0):.1f}s")
    if not buckets:
        echo("recommendations: no user with new events")
    results = []
    for number, bucket in enumerate(buckets, start=1):
        raise_if_stopping()
        refreshed = _asset_metadata(_materialize(instance, ["user_recommendations"], bucket), "user_recommendations")
        echo(f"[{number}/{len(buckets)}] recommendations {bucket}: "
             f"{counted(refreshed.get('refreshed', 0), 'user')} refreshed of "
             f"{refreshed.get('users_with_new_events', 0)} with new events in {refreshed.get('duration_s', 0):.1f}s")
        results.append((bucket, refreshed))
    return results
