"""`gfl bench freshness`: commit-to-searchable latency as `gfl up` runs (daemon + change listener, or the
sensor alone), next to Dagster's floor."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Callable, Optional

import click

from gfl_dagster.cli.common import print_json
from gfl_dagster_bench.common import machine, percentile, throwaway_project


def _wait(check: Callable[[], bool], timeout_s: float) -> Optional[float]:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


# Taken in turn, so each has a quarter of the changes. A review is a guest's new review of a listing that guests
# already reviewed (REVIEWS_BEFORE each, written before the initial sync): it changes the counts of that
# listing's summary, and is searchable once the listing's vector carries the new summary.
KINDS = ("update", "insert", "delete", "review")
# Real guests' words (Inside Airbnb, Singapore); each mentions cleanliness, so every new one changes a count.
REVIEW_COMMENTS = ("Very quiet and clean room, the host was very helpful.",
                   "Clean, quiet and close to the MRT. Great host, would stay again.",
                   "The location is great and the room was clean and comfortable.")
REVIEWS_BEFORE = 2  # what a summary's aspect needs: two reviews that mention it


@click.command("freshness")
@click.option("--changes", default=30, show_default=True, type=click.IntRange(min=1),
              help="Single-row changes to time, updates, inserts and deletes in turn (and as many floor probes).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=10), help="Listings to load.")
@click.option("--events", default=10, show_default=True, type=click.IntRange(min=0),
              help="Feedback events to time from insert to the user's refreshed recommendation.")
@click.option("--fast-path/--sensor-only", default=True, show_default=True,
              help="Run the change listener (`gfl listen`) beside the daemon, as `gfl up` does, or the sensor alone.")
@click.option("--dagster-storage", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True,
              help="Dagster's runs and events in sqlite (the default instance) or Postgres (DAGSTER_PG_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_freshness(changes: int, limit: int, events: int, fast_path: bool, dagster_storage: str,
                    as_json: bool) -> None:
    """Freshness from commit to searchable for single-row updates, inserts and deletes, p50 and p95,
    under the configuration `gfl up` runs: the change sensor under dagster-daemon and, unless
    --sensor-only, the change listener beside it. In the same run, Dagster's own floor: an empty asset
    triggered the same way as the sensor's sync. Apart: the model's share of one change (describing
    and embedding one listing, called directly), which a remote model adds on top. Then, from a
    user's feedback event to their refreshed "recommended for you" (the feedback sensor's path).

    Runs on a throwaway embedded Postgres and Dagster instance. The figures are printed whatever
    happens; a failure is named in them (`error`) and the exit code is 1.
    """
    figures = {"mode": "fast path + sensor" if fast_path else "sensor only", "changes": changes, "listings": limit,
               "dagster_storage": dagster_storage, "machine": machine(), "error": None}
    try:
        with throwaway_project(dagster_on_postgres=dagster_storage == "postgres") as scratch:
            _measure(figures, changes, limit, events, fast_path, scratch, lambda line: click.echo(line, err=True))
    except (Exception, KeyboardInterrupt) as error:  # the figures measured so far are still worth printing
        figures["error"] = figures["error"] or type(error).__name__ + (f": {error}" if str(error) else "")
    if as_json:
        print_json(figures)
    else:
        click.echo(_text(figures))
    if figures["error"]:
        raise SystemExit(1)


def _seconds(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f}s"


def _text(figures: dict) -> str:
    lines = [f"{figures['changes']} changes on {figures['machine']}, {figures['mode']}"]
    if figures.get("p50_s") is not None:
        lines.append(f"  commit -> searchable: p50 {_seconds(figures['p50_s'])}, p95 {_seconds(figures['p95_s'])}")
        lines += [f"    {kind + ':':8}           p50 {_seconds(figures[f'{kind}_p50_s'])}, "
                  f"p95 {_seconds(figures[f'{kind}_p95_s'])}" for kind in KINDS]
    if figures.get("floor_p50_s") is not None:
        lines.append(f"  Dagster floor:        p50 {_seconds(figures['floor_p50_s'])}, "
                     f"p95 {_seconds(figures['floor_p95_s'])}")
        if figures.get("p50_s") is not None:
            lines.append(f"  ratio (p50):          {figures['p50_s'] / figures['floor_p50_s']:.2f}x")
    if figures.get("model_describe_p50_s") is not None:
        lines.append(f"  model calls, apart:   describe p50 {_seconds(figures['model_describe_p50_s'])} "
                     f"({figures['describer']}), embed p50 {_seconds(figures['model_embed_p50_s'])} "
                     f"({figures['embedder']})")
    if figures.get("event_p50_s") is not None:
        lines.append(f"  event -> recommended: p50 {_seconds(figures['event_p50_s'])}, "
                     f"p95 {_seconds(figures['event_p95_s'])}")
    if figures.get("timeouts"):
        lines.append(f"  timed out: {figures['timeouts']}")
    if figures["error"]:
        lines.append(f"  error: {figures['error']}")
    return "\n".join(lines)


def _percentiles(figures: dict, prefix: str, values: list[float]) -> None:
    figures[f"{prefix}p50_s"] = percentile(values, 0.5) if values else None
    figures[f"{prefix}p95_s"] = percentile(values, 0.95) if values else None


def _measure(figures: dict, changes: int, limit: int, events: int, fast_path: bool, scratch: Path,
             echo: Callable[[str], None]) -> None:
    """Fills `figures` as it goes, so a failure part-way still leaves what was measured."""
    from gfl_dagster.cli.common import ensure_loaded
    from gfl_dagster.cli.processes import dagster_command, start_process
    from gfl_dagster.db import queries
    from gfl_dagster.listings.sensors import SENSOR_INTERVAL_S
    from gfl_dagster.cli.runs import project_instance, project_resources, SEARCHABLE, sync_all

    figures["sensor_interval_s"] = SENSOR_INTERVAL_S
    instance = project_instance()
    with project_resources() as resources:
        areas = ensure_loaded(instance, resources, limit, echo)
        engine = resources.database.engine()
        with engine.connect() as connection:
            ids = [row[0] for row in connection.execute(queries.ALL_LISTING_IDS)]
        reviewed = _write_reviews(engine, random.Random(11).sample(ids, min(len(ids), changes)))
        echo(f"initial sync of {limit} listings, {REVIEWS_BEFORE} guests' reviews each for {len(reviewed)} of them")
        sync_all(instance, areas, echo, SEARCHABLE)
        _time_model_calls(figures, resources, engine, ids[:MODEL_CALLS])

    children = []
    try:
        # The project's code location plus the floor probe, which a user's `gfl up` never loads.
        children.append(start_process([dagster_command("dagster-daemon"), "run", "-m", "gfl_dagster_bench.definitions"],
                                      scratch / "daemon.log", env=dict(os.environ)))
        if fast_path:
            children.append(start_process([dagster_command("gfl"), "listen"], scratch / "listen.log",
                                          env=dict(os.environ)))
            echo("waiting for the change listener")
            if _wait(lambda: _listening(engine), 120) is None:
                raise click.ClickException("the change listener never started listening: see `gfl listen`")
        echo("waiting for the daemon's first sensor ticks")
        if _probe(engine, timeout_s=120) is None:
            raise click.ClickException("the freshness probe was never answered: is the daemon running?")
        rng = random.Random(7)
        latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
        floor: list[float] = []
        figures["timeouts"] = 0
        for number in range(1, changes + 1):
            kind = KINDS[(number - 1) % len(KINDS)]
            # Commits land at random moments of the daemon's 5 s loop, as real writes do; back to
            # back, each would start in the same phase of the loop as the last one ended.
            time.sleep(rng.uniform(0, 5))
            change = _change(engine, kind, ids, rng, reviewed)
            time.sleep(rng.uniform(0, 5))
            probe = _probe(engine)
            figures["timeouts"] += (change is None) + (probe is None)
            latencies[kind] += [change] if change is not None else []
            floor += [probe] if probe is not None else []
            _percentiles(figures, "", [value for values in latencies.values() for value in values])
            for each in KINDS:
                _percentiles(figures, f"{each}_", latencies[each])
            _percentiles(figures, "floor_", floor)
            echo(f"[{number}/{changes}] {kind} {change if change is None else round(change, 2)}s, "
                 f"floor {probe if probe is None else round(probe, 2)}s")
        reflected: list[float] = []
        figures["events"] = events
        for number in range(1, events + 1):
            time.sleep(rng.uniform(0, 5))
            seconds = _event(engine, f"bench-user-{number}", rng.choice(ids))
            figures["timeouts"] += seconds is None
            reflected += [seconds] if seconds is not None else []
            _percentiles(figures, "event_", reflected)
            echo(f"[{number}/{events}] event -> recommended {seconds if seconds is None else round(seconds, 2)}s")
    finally:
        _stop_all(children, figures)  # their run workers too, before the project folder is deleted


MODEL_CALLS = 10


def _time_model_calls(figures: dict, resources, engine, ids: list[int]) -> None:
    """The model's share of a change, reported apart: one listing described (the configured chat model, or
    the template) and embedded, as a sync does it, called directly. A remote model adds this on top."""
    from gfl_dagster.db import queries
    from gfl_dagster.listings.describe import describe_listing, describer_name, known_places
    from gfl_dagster.listings.embedding_text import embedding_text
    from gfl_dagster.listings.facts import description_input

    with engine.connect() as connection:
        rows = [dict(connection.execute(queries.LISTING_BY_ID, {"id": listing_id}).mappings().one())
                for listing_id in ids]
        areas, places = known_places(connection)  # what a sync checks descriptions against: retries follow it
    described, embedded = [], []
    for row in rows:
        started = time.monotonic()
        text = describe_listing(resources.model_client, description_input(row), row, areas, places).text
        described.append(time.monotonic() - started)
        started = time.monotonic()
        resources.embedder.embed_documents([embedding_text(row, text)])
        embedded.append(time.monotonic() - started)
    figures.update(describer=describer_name(resources.model_client), embedder=resources.embedder.model_name)
    _percentiles(figures, "model_describe_", described)
    _percentiles(figures, "model_embed_", embedded)


def _stop_all(children: list, figures: dict) -> None:
    """Stop every child, whatever stopping one of them raises: cleanup never hides the figures."""
    from gfl_dagster.cli.processes import stop_process

    for child in children:
        try:
            stop_process(child)
        except Exception as error:
            figures["cleanup_warning"] = f"could not stop pid {child.pid}: {type(error).__name__}: {error}"


def _listening(engine) -> bool:
    from gfl_dagster.db import queries

    with engine.connect() as connection:
        return bool(connection.execute(queries.LISTENER_BACKENDS).first())


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


def _change(engine, kind: str, ids: list[int], rng: random.Random, reviewed: list[int],
            timeout_s: float = 60) -> Optional[float]:
    """Seconds from the commit of one change until the store follows it: holds the new version (update,
    insert), no longer holds the listing (delete), or holds the listing's new guest summary (review, of one of
    the `reviewed` listings still living). `ids` follows the living listings."""
    from gfl_dagster.db import queries

    if kind == "review":
        return _review(engine, rng.choice([i for i in reviewed if i in ids]), rng, timeout_s)
    with engine.begin() as connection:
        if kind == "insert":
            listing_id, version = connection.execute(queries.FRESHNESS_INSERT,
                                                     {"id": rng.choice(ids), "jitter": 0.0001}).one()
            ids.append(listing_id)
        elif kind == "delete":
            listing_id, version = ids.pop(rng.randrange(len(ids))), None
            connection.execute(queries.SIMULATE_DELETE, {"id": listing_id})
        else:
            listing_id = rng.choice(ids)
            version = connection.execute(queries.BUMP_PRICE, {"id": listing_id}).scalar_one()

    def searchable() -> bool:
        with engine.connect() as connection:
            synced = connection.execute(queries.SYNCED_VERSION_BY_ID, {"id": listing_id}).scalar()
        return synced is None if version is None else synced is not None and synced >= version

    return _wait(searchable, timeout_s)


def _write_reviews(engine, listing_ids: list[int]) -> list[int]:
    """REVIEWS_BEFORE reviews of each listing, by different guests: their summaries state counts a new review changes."""
    from gfl_dagster.db import queries

    with engine.begin() as connection:
        for number, listing_id in enumerate(listing_ids):
            for each in range(REVIEWS_BEFORE):
                connection.execute(queries.NEW_REVIEW, {
                    "listing_id": listing_id, "reviewer_id": number * REVIEWS_BEFORE + each + 1,
                    "reviewer_name": "Bench guest", "comments": REVIEW_COMMENTS[each % len(REVIEW_COMMENTS)]})
    return listing_ids


def _review(engine, listing_id: int, rng: random.Random, timeout_s: float) -> Optional[float]:
    """Seconds from the commit of a new review until the listing's vector carries the summary rebuilt from it
    (a summary other than the one before: the review changed a count)."""
    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster.db import queries
    from gfl_dagster.listings.source import LISTINGS

    def summary() -> tuple[Optional[str], int]:
        with engine.connect() as connection:
            row = connection.execute(queries.GUEST_SUMMARY_BY_ID, {"id": listing_id}).mappings().first()
        return (row["summary"], row["newest_review_version"]) if row else (None, 0)

    before, _ = summary()
    if not before:
        raise click.ClickException(f"listing {listing_id} has no guest summary before its new review: "
                                   f"the review case needs one that a new review changes")
    with project_resources() as resources, resources.vector_store.session(LISTINGS) as store:
        with engine.begin() as connection:  # the clock starts at its commit: the store is open already
            version = connection.execute(queries.NEW_REVIEW, {
                "listing_id": listing_id, "reviewer_name": "Bench guest", "reviewer_id": rng.randrange(10**6, 10**9),
                "comments": rng.choice(REVIEW_COMMENTS)}).scalar_one()

        def searchable() -> bool:
            now, built_from = summary()
            if now is None or built_from < version:
                return False
            if now == before:
                raise click.ClickException(f"listing {listing_id}'s guest summary kept its text after a new review "
                                           f"mentioning an aspect it counts: {now!r}")
            stored = store.get(listing_id)
            return stored is not None and stored.properties.get("guest_summary") == now

        return _wait(searchable, timeout_s)


def _probe(engine, timeout_s: float = 60) -> Optional[float]:
    from gfl_dagster.db import queries

    with engine.begin() as connection:
        probe = connection.execute(queries.NEW_PROBE).scalar_one()

    def answered() -> bool:
        with engine.connect() as connection:
            return bool(connection.execute(queries.PROBE_ANSWERED, {"id": probe}).scalar())

    return _wait(answered, timeout_s)
