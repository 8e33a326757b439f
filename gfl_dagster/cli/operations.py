"""`gfl status` and `gfl simulate`: watching and exercising the change capture."""

from __future__ import annotations

import random
import time
from typing import Optional

import click

from gfl_dagster.cli.common import counted, print_json


def area_status(engine) -> list[dict]:
    from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
    from gfl_dagster.db import queries

    with engine.connect() as connection:
        rows = connection.execute(queries.STATUS_BY_AREA, {"poison_attempts": POISON_AFTER_ATTEMPTS}).mappings()
        return [{**row, "oldest_pending_s": None if row["oldest_pending_s"] is None
                 else round(float(row["oldest_pending_s"]), 1)} for row in rows]


def loads_in_progress(engine) -> list[str]:
    """CSV loads running now in any process ('4000/48895 rows of AB_NYC_2019.csv'): each names its session."""
    from gfl_dagster.db import queries
    from gfl_dagster.listings.load import LOADING_PREFIX

    with engine.connect() as connection:
        names = connection.execute(queries.LOADING_SESSIONS, {"prefix": LOADING_PREFIX + "%"}).scalars()
        return [name[len(LOADING_PREFIX):] for name in names]


def up_phase() -> Optional[dict]:
    """{"pid", "phase"} of the gfl up running on this project ("loading the listings", "syncing"...), or None."""
    import json

    import psutil

    from gfl_dagster import settings

    try:
        recorded = json.loads((settings.gfl_home() / "up.pid").read_text())
        if "gfl" in " ".join(psutil.Process(int(recorded["up"])).cmdline()):
            return {"pid": int(recorded["up"]), "phase": recorded.get("phase", "running")}
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        pass
    return None


def status_table(rows: list[dict]) -> str:
    header = f"{'area':<24}{'source':>8}{'synced':>8}{'pending':>9}{'oldest':>10}{'rejects':>9}{'poison':>8}"
    lines = [header, "-" * len(header)]
    for row in rows:
        oldest = "-" if row["oldest_pending_s"] is None else f"{row['oldest_pending_s']:.1f}s"
        lines.append(f"{row['area'][:23]:<24}{row['source_rows']:>8}{row['synced_rows']:>8}{row['pending']:>9}"
                     f"{oldest:>10}{row['rejects']:>9}{row['poison_rows']:>8}")
    return "\n".join(lines)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one object per area.")
def status(as_json: bool) -> None:
    """Per area: source rows, synced rows, pending changes and the oldest one's age, rejects, poison rows;
    then the loop: feedback events by kind, ads (active and retired), users with recommendations; and the
    model spend: requests, tokens and estimated cost per model, today's against GFL_DAILY_BUDGET_USD."""
    from gfl_dagster.cli.runs import project_resources

    with project_resources() as resources:
        engine = resources.database.engine()
        rows = area_status(engine)
        loop = loop_status(engine)
        loading = loads_in_progress(engine)
    starting = up_phase()
    if as_json:
        print_json({"areas": rows, **loop, "loading": loading, "gfl_up": starting})
        return
    for line in loading:
        click.echo(f"loading: {line}")
    if rows:
        click.echo(status_table(rows))
    elif starting and not loading:
        click.echo(f"no listings yet: gfl up (pid {starting['pid']}) is {starting['phase']}")
    elif not loading:
        click.echo("no listings yet: run `gfl up` or `gfl load PATH`")
    events = ", ".join(counted(n, kind) for kind, n in loop["feedback_events"].items()) or "none"
    click.echo(f"feedback events: {events}\nads: {loop['ads']['active']} active, {loop['ads']['retired']} retired"
               f"\nusers with recommendations: {loop['users_with_recommendations']}")
    click.echo(spend_lines(loop["model_spend"], loop["daily_budget_usd"]))
    vectors = loop["vectors"]
    click.echo(f"vectors: {vectors['live_model'] or 'none yet'}" + (
        "" if not vectors["next"] else f"; switching to {vectors['next']['model']}: "
        f"{vectors['next']['synced']}/{vectors['next']['source']} listings embedded, search served meanwhile "
        f"by {vectors['live_model']}"))


def spend_lines(spend: list[dict], budget: Optional[float]) -> str:
    """Model spend per model: requests, tokens, estimated cost in all and today, against the daily budget."""
    if not spend:
        return "model spend: none recorded (templates and the local embedder cost nothing)"
    lines = ["model spend:"]
    for row in spend:
        cost = "no price configured" if row["cost_usd"] is None else f"${row['cost_usd']:.4f}"
        today = "" if row["cost_today_usd"] is None else f", today ${row['cost_today_usd']:.4f}"
        lines.append(f"  {row['model']}: {row['requests']} requests, {row['prompt_tokens']} prompt + "
                     f"{row['completion_tokens']} completion tokens, {cost}{today}")
    spent_today = sum(row["cost_today_usd"] or 0 for row in spend)
    if budget is not None:
        lines.append(f"  daily budget: ${spent_today:.4f} of ${budget:g} spent today"
                     + ("  (reached: generation waits)" if spent_today >= budget else ""))
    return "\n".join(lines)


def loop_status(engine) -> dict:
    from gfl_dagster import settings
    from gfl_dagster.db import queries
    from gfl_dagster.generation.spend import today

    with engine.connect() as connection:
        events = {row.kind: row.n for row in connection.execute(queries.EVENT_COUNTS)}
        ads = connection.execute(queries.AD_COUNTS).one()
        users = connection.execute(queries.RECOMMENDATION_COUNT).scalar_one()
        spend = [{key: value if value is None or key == "model" else float(value) if key.startswith("cost")
                  else int(value) for key, value in row.items()}
                 for row in connection.execute(queries.MODEL_USAGE_SUMMARY, {"day": today()}).mappings()]
    return {"feedback_events": events, "ads": {"active": ads.active, "retired": ads.retired},
            "users_with_recommendations": users, "model_spend": spend, "daily_budget_usd": settings.daily_budget_usd(),
            "vectors": vector_generations(engine)}


def vector_generations(engine) -> dict:
    """The embedding model search is served by, and the next generation while a model change builds it."""
    from gfl_dagster import settings
    from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
    from gfl_dagster.clients.embedder import configured_model
    from gfl_dagster.listings.source import LISTINGS
    from gfl_dagster.stores import generations

    if settings.vector_backend() != "pgvector":
        return {"live_model": configured_model(), "next": None}
    return {"live_model": generations.live_model(engine, LISTINGS),
            "next": generations.next_progress(engine, LISTINGS, POISON_AFTER_ATTEMPTS)}


@click.command()
@click.option("--rate", type=click.FloatRange(min=0.01),
              help="Changes per second [default: 2], or searches per second with --users [default: 10].")
@click.option("--duration", default=60.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds to run.")
@click.option("--seed", type=int, help="Random seed, for a repeatable stream.")
@click.option("--users", type=click.IntRange(min=1), help="Simulate this many people instead, who search through "
              "the project's search as the page does, see the bandit's ads, view what fits them, click ads as the "
              "hidden truth says, save and book (--rate is then searches per second). Their events carry "
              "impression ids and pass the API's checks, as a person's do.")
@click.option("--preferences", type=click.Path(exists=True, dir_okay=False),
              help="With --users: the hidden truth of who clicks which ad, TOML with one table per audience slug, "
                   "`angle = probability` (default: gfl_dagster/feedback/market_truth.toml).")
@click.option("--personas", type=click.Path(exists=True, dir_okay=False),
              help="With --users: who the people are, TOML with one [[persona]] table each: audience, sentence "
                   "(with {area}), room_types, and optionally max_price, min_guests, min_rating, features "
                   "(default: gfl_dagster/feedback/personas.toml).")
def simulate(rate: float, duration: float, seed: Optional[int], users: Optional[int],
             preferences: Optional[str], personas: Optional[str]) -> None:
    """Write a stream of changes to the configured database: price and availability
    updates, new listings and deletes, each its own transaction. Watch them arrive
    with `gfl status` or in the Dagster UI."""
    if users:
        return _simulate_users(users, rate or 10.0, duration, seed, preferences, personas)
    if preferences or personas:
        raise click.UsageError("--preferences and --personas describe simulated people: use them with --users")
    rate = rate or 2.0
    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster.listings.simulation import SimulationCounts, apply_change

    rng = random.Random(seed)
    counts = SimulationCounts()
    with project_resources() as resources:
        engine = resources.database.engine()
        started = time.monotonic()
        deadline = started + duration
        made = 0
        try:
            while time.monotonic() < deadline:
                apply_change(engine, rng, counts)
                made += 1
                if made % max(1, int(rate * 10)) == 0:
                    click.echo(f"{made} changes in {time.monotonic() - started:.0f}s: {counts.summary()}")
                time.sleep(max(0.0, started + made / rate - time.monotonic()))
        except KeyboardInterrupt:
            pass
    click.echo(f"done: {made} changes ({counts.summary()})")


def _simulate_users(count: int, rate: float, duration: float, seed: Optional[int],
                    preferences: Optional[str], personas_file: Optional[str]) -> None:
    from gfl_dagster.ads.angles import load_angles
    from gfl_dagster.ads.audiences import load_audiences
    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster.db import queries
    from gfl_dagster.feedback.impressions import Signer
    from gfl_dagster.feedback.market import load_click_model
    from gfl_dagster.feedback.personas import load_personas
    from gfl_dagster.feedback.serving import SearchServer
    from gfl_dagster.feedback.simulated_users import make_users, step
    from gfl_dagster.listings.source import LISTINGS
    from gfl_dagster.search.interpret import load_search_context

    audiences = [a.slug for a in load_audiences()[0]]
    try:
        truth = load_click_model(preferences, audiences, [a.slug for a in load_angles()])
        personas = load_personas(personas_file, audiences)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    rng = random.Random(seed)
    totals: dict[str, int] = {}
    with project_resources() as resources, resources.vector_store.session(LISTINGS) as store:
        engine = resources.database.engine()
        with engine.connect() as connection:
            areas = [row.area for row in sorted(connection.execute(queries.LIST_AREAS), key=lambda r: -r.listings)]
        if not areas:
            click.echo("no listings yet: run `gfl up` first")
            return
        signer = Signer.from_environment()
        people = make_users(count, areas, personas, rng, signer)
        context = load_search_context(engine)  # the places and price bands, read once for the run
        server = SearchServer(engine, resources.embedder, store, lambda: context, resources.model_client, signer)
        started = time.monotonic()
        made = 0
        try:
            while time.monotonic() - started < duration:
                for kind, n in step(server, rng.choice(people), rng, truth).items():
                    totals[kind] = totals.get(kind, 0) + n
                made += 1
                if made % max(1, int(rate * 10)) == 0:
                    click.echo(f"{made} searches by {count} users in {time.monotonic() - started:.0f}s: "
                               + ", ".join(counted(n, kind) for kind, n in sorted(totals.items())))
                time.sleep(max(0.0, started + made / rate - time.monotonic()))
        except KeyboardInterrupt:
            pass
    click.echo(f"done: {made} searches ({', '.join(counted(n, kind) for kind, n in sorted(totals.items()))})")
