"""`gfl bench up`: the initial sync as users run it, `gfl up` on a fresh project folder, next to the embedder's raw
throughput measured in the same run on the same texts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import click

from gfl_dagster.cli.common import print_json
from gfl_dagster.cli.processes import free_port
from gfl_dagster.clients.embedder import Embedder
from gfl_dagster_bench.common import embedder_texts_per_s, machine, throwaway_project

_DONE = re.compile(r"initial sync done in ([0-9.]+)s")
_HEARTBEAT = "No heartbeat received"


@click.command("up")
@click.option("--limit", type=click.IntRange(min=1), help="Load only the first N rows of the CSV (default: all).")
@click.option("--dagster-storage", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True,
              help="Dagster's runs and events in sqlite (the default instance) or Postgres (DAGSTER_PG_URL).")
@click.option("--timeout", "timeout_s", default=1800, show_default=True, help="Seconds to wait for the sync.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_up(limit: Optional[int], dagster_storage: str, timeout_s: int, as_json: bool) -> None:
    """Start `gfl up` (UI, daemon, search page, sensor-driven sync) on a throwaway project, time its initial
    sync from its own output, count the code servers' heartbeat warnings, then embed the same texts alone."""
    with throwaway_project("gfl-bench-up-", dagster_on_postgres=dagster_storage == "postgres") as home:
        figures = _measure(home, limit, timeout_s, lambda line: click.echo(line, err=True))
    figures["dagster_storage"] = dagster_storage
    if as_json:
        print_json(figures)
        return
    click.echo(
        f"{figures['listings']} listings under gfl up on {figures['machine']} (Dagster on {dagster_storage})\n"
        f"  start to UI and page: {figures['startup_s']:.1f}s\n"
        f"  initial sync:         {figures['sync_s']:.1f}s = {figures['sync_listings_per_s']:.1f} listings/s\n"
        f"  embedder alone:       {figures['embedder_texts_per_s']:.1f} texts/s\n"
        f"  sync / embedder:      {figures['ratio']:.2f}\n"
        f"  heartbeat warnings:   {figures['heartbeat_warnings']}")


def _measure(home: Path, limit: Optional[int], timeout_s: int, echo) -> dict:
    gfl = Path(sys.executable).parent / "gfl"
    command = [str(gfl), "up", "--port", str(free_port()), "--web-port", str(free_port())]
    command += ["--limit", str(limit)] if limit else []
    log = home / "up.log"
    started = time.monotonic()
    with open(log, "wb") as output:
        up = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ))
    relay = _Relay(log, echo)  # gfl up's own lines (its progress: share, rate, time left, areas) as they come
    try:
        startup_s = _wait_for(log, "search page: http", started, timeout_s, up, relay)
        sync_s = float(_DONE.search(_wait_text(log, _DONE, started, timeout_s, up, relay)).group(1))
        texts = _texts()
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            up.kill()
    echo(f"gfl up synced {len(texts)} listings in {sync_s:.1f}s; now the embedder alone on the same texts")
    embedder_per_s = embedder_texts_per_s(Embedder(), texts)
    logs = "".join(path.read_text(errors="replace") for path in (home / "logs").glob("*.log"))
    return {"listings": len(texts), "machine": machine(), "startup_s": startup_s, "sync_s": sync_s,
            "sync_listings_per_s": len(texts) / sync_s, "embedder_texts_per_s": embedder_per_s,
            "ratio": (len(texts) / sync_s) / embedder_per_s, "heartbeat_warnings": logs.count(_HEARTBEAT)}


class _Relay:
    """Echoes the lines of a growing log once each."""

    def __init__(self, log: Path, echo) -> None:
        self.log, self.echo, self.shown = log, echo, 0

    def __call__(self, text: str) -> None:
        complete = text[:text.rfind("\n") + 1]
        for line in complete[self.shown:].splitlines():
            self.echo(f"  gfl up: {line}")
        self.shown = max(self.shown, len(complete))


def _wait_text(log: Path, pattern: re.Pattern, started: float, timeout_s: int, up: subprocess.Popen,
               relay=lambda text: None) -> str:
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        relay(text)
        if pattern.search(text):
            return text
        if up.poll() is not None:
            raise click.ClickException(f"gfl up exited with {up.returncode}:\n{text[-2000:]}")
        if time.monotonic() - started > timeout_s:
            raise click.ClickException(f"no {pattern.pattern!r} within {timeout_s}s:\n{text[-2000:]}")
        time.sleep(0.2)


def _wait_for(log: Path, marker: str, started: float, timeout_s: int, up: subprocess.Popen, relay) -> float:
    _wait_text(log, re.compile(re.escape(marker)), started, timeout_s, up, relay)
    return time.monotonic() - started


def _texts() -> list[str]:
    """The texts the sync embedded, read while gfl up still runs its database."""
    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster.db import queries
    from gfl_dagster.listings.embedding_text import embedding_text

    with project_resources() as resources:
        with resources.database.engine().connect() as connection:
            areas = [row.area for row in connection.execute(queries.LIST_AREAS)]
            rows = [dict(r) for area in areas
                    for r in connection.execute(queries.LISTINGS_IN_AREA, {"area": area}).mappings()]
            descriptions = {r.listing_id: r.description for r in connection.execute(
                queries.DESCRIPTIONS_FOR, {"ids": [row["id"] for row in rows]})}
    return [embedding_text(row, descriptions.get(row["id"])) for row in rows]
