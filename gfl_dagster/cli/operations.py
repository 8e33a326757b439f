"""`gfl status` and `gfl simulate`: watching and exercising the change capture."""

from __future__ import annotations

import random
import time
from typing import Optional

import click

from gfl_dagster.cli.common import print_json


def area_status(engine) -> list[dict]:
    from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
    from gfl_dagster.db import queries

    with engine.connect() as connection:
        rows = connection.execute(queries.STATUS_BY_AREA, {"poison_attempts": POISON_AFTER_ATTEMPTS}).mappings()
        return [{**row, "oldest_pending_s": None if row["oldest_pending_s"] is None
                 else round(float(row["oldest_pending_s"]), 1)} for row in rows]


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
    """Per area: source rows, synced rows, pending changes and the oldest one's age, rejects, poison rows."""
    from gfl_dagster.cli.runs import project_resources

    with project_resources() as resources:
        rows = area_status(resources.database.engine())
    if as_json:
        print_json(rows)
    else:
        click.echo(status_table(rows) if rows else "no listings yet: run `gfl up` or `gfl load PATH`")


@click.command()
@click.option("--rate", default=2.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Changes per second.")
@click.option("--duration", default=60.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds to run.")
@click.option("--seed", type=int, help="Random seed, for a repeatable stream.")
def simulate(rate: float, duration: float, seed: Optional[int]) -> None:
    """Write a stream of changes to the configured database: price and availability
    updates, new listings and deletes, each its own transaction. Watch them arrive
    with `gfl status` or in the Dagster UI."""
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
