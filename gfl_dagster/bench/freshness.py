"""`gfl bench freshness`: commit-to-searchable latency under dagster-daemon, next to Dagster's floor."""

from __future__ import annotations

import os
import random
import time
from typing import Callable, Optional

import click

from gfl_dagster.bench.common import machine, percentile, throwaway_project
from gfl_dagster.cli.common import print_json


def _wait(check: Callable[[], bool], timeout_s: float) -> Optional[float]:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


@click.command("freshness")
@click.option("--changes", default=30, show_default=True, type=click.IntRange(min=1),
              help="Single-row updates to time (and as many floor probes).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=10), help="Listings to load.")
@click.option("--events", default=10, show_default=True, type=click.IntRange(min=0),
              help="Feedback events to time from insert to the user's refreshed recommendation.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_freshness(changes: int, limit: int, events: int, as_json: bool) -> None:
    """Freshness from commit to searchable for single-row updates, p50 and p95, with the
    change sensor running under dagster-daemon as users run it; and, in the same run,
    Dagster's own floor: an empty asset triggered the same way. Then, from a user's
    feedback event to their refreshed "recommended for you" (the feedback sensor's path).

    Runs on a throwaway embedded Postgres and Dagster instance.
    """
    with throwaway_project():
        figures = _measure(changes, limit, events, lambda line: click.echo(line, err=True))
    if as_json:
        print_json(figures)
        return
    click.echo(
        f"{figures['changes']} changes on {figures['machine']}\n"
        f"  commit -> searchable: p50 {figures['p50_s']:.2f}s, p95 {figures['p95_s']:.2f}s\n"
        f"  Dagster floor:        p50 {figures['floor_p50_s']:.2f}s, p95 {figures['floor_p95_s']:.2f}s\n"
        f"  ratio (p50):          {figures['p50_s'] / figures['floor_p50_s']:.2f}x"
        + (f"\n  event -> recommended: p50 {figures['event_p50_s']:.2f}s, p95 {figures['event_p95_s']:.2f}s"
           if figures.get("event_p50_s") is not None else "")
        + (f"\n  timed out: {figures['timeouts']}" if figures["timeouts"] else "")
    )


def _measure(changes: int, limit: int, events: int, echo: Callable[[str], None]) -> dict:
    from gfl_dagster.cli.common import ensure_loaded
    from gfl_dagster.cli.processes import dagster_command, start_process, stop_process
    from gfl_dagster.db import queries
    from gfl_dagster.listings.sensors import SENSOR_INTERVAL_S
    from gfl_dagster.cli.runs import project_instance, project_resources, sync_all

    instance = project_instance()
    with project_resources() as resources:
        areas = ensure_loaded(instance, resources, limit, echo)
        engine = resources.database.engine()
    echo(f"initial sync of {limit} listings")
    sync_all(instance, areas, echo)
    with engine.connect() as connection:
        ids = [row[0] for row in connection.execute(queries.ALL_LISTING_IDS)]

    # The project's code location plus the floor probe, which a user's `gfl up` never loads.
    daemon = start_process([dagster_command("dagster-daemon"), "run", "-m", "gfl_dagster.bench.definitions"],
                           env=dict(os.environ))
    try:
        echo("waiting for the daemon's first sensor ticks")
        if _probe(engine, timeout_s=120) is None:
            raise click.ClickException("the freshness probe was never answered: is the daemon running?")
        rng = random.Random(7)
        latencies, floor, timeouts = [], [], 0
        for number in range(1, changes + 1):
            # Commits land at random moments of the daemon's 5 s loop, as real writes do; back to
            # back, each would start in the same phase of the loop as the last one ended.
            time.sleep(rng.uniform(0, 5))
            change = _change(engine, rng.choice(ids))
            time.sleep(rng.uniform(0, 5))
            probe = _probe(engine)
            timeouts += (change is None) + (probe is None)
            latencies += [change] if change is not None else []
            floor += [probe] if probe is not None else []
            echo(f"[{number}/{changes}] change {change if change is None else round(change, 2)}s, "
                 f"floor {probe if probe is None else round(probe, 2)}s")
        reflected = []
        for number in range(1, events + 1):
            time.sleep(rng.uniform(0, 5))
            seconds = _event(engine, f"bench-user-{number}", rng.choice(ids))
            timeouts += seconds is None
            reflected += [seconds] if seconds is not None else []
            echo(f"[{number}/{events}] event -> recommended {seconds if seconds is None else round(seconds, 2)}s")
    finally:
        stop_process(daemon)  # its run workers too, before the project folder is deleted
    return {
        "changes": changes, "listings": limit, "machine": machine(), "timeouts": timeouts,
        "p50_s": percentile(latencies, 0.5), "p95_s": percentile(latencies, 0.95),
        "floor_p50_s": percentile(floor, 0.5), "floor_p95_s": percentile(floor, 0.95),
        "events": events, "event_p50_s": percentile(reflected, 0.5) if reflected else None,
        "event_p95_s": percentile(reflected, 0.95) if reflected else None,
        "sensor_interval_s": SENSOR_INTERVAL_S,
    }


def _event(engine, user_id: str, listing_id: int, timeout_s: float = 60) -> Optional[float]:
    """A user's view, from its insert to a stored recommendation that reflects it."""
    from gfl_dagster.db import queries
    from gfl_dagster.feedback.events import Event
    from gfl_dagster.feedback.record import record_events

    record_events(engine, [Event("view", user_id, listing_id)])
    with engine.connect() as connection:
        newest = connection.execute(queries.NEWEST_EVENT_OF, {"user_id": user_id}).scalar_one()

    def reflected() -> bool:
        with engine.connect() as connection:
            stored = connection.execute(queries.RECOMMENDATION_FOR, {"user_id": user_id}).mappings().first()
        return stored is not None and stored["source_event_id"] >= newest

    return _wait(reflected, timeout_s)


def _change(engine, listing_id: int, timeout_s: float = 60) -> Optional[float]:
    from gfl_dagster.db import queries

    with engine.begin() as connection:
        version = connection.execute(queries.BUMP_PRICE, {"id": listing_id}).scalar_one()

    def searchable() -> bool:
        with engine.connect() as connection:
            synced = connection.execute(queries.SYNCED_VERSION_BY_ID, {"id": listing_id}).scalar()
        return synced is not None and synced >= version

    return _wait(searchable, timeout_s)


def _probe(engine, timeout_s: float = 60) -> Optional[float]:
    from gfl_dagster.db import queries

    with engine.begin() as connection:
        probe = connection.execute(queries.NEW_PROBE).scalar_one()

    def answered() -> bool:
        with engine.connect() as connection:
            return bool(connection.execute(queries.PROBE_ANSWERED, {"id": probe}).scalar())

    return _wait(answered, timeout_s)
