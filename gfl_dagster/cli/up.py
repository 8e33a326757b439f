"""`gfl up`: the main job. Database, schema, CSV load, Dagster UI and daemon, initial sync."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Optional

import click

from gfl_dagster import settings
from gfl_dagster.cli.common import ensure_loaded, load_summary
from gfl_dagster.cli.operations import area_status
from gfl_dagster.cli.common import fail
from gfl_dagster.cli.processes import dagster_command, port_holder, start_process, stop_leftovers, stop_process


def _watch_initial_sync(engine, children: list) -> None:
    """The daemon's change sensor does the sync; show its progress until nothing is pending."""
    started = time.monotonic()
    click.echo("initial sync: the change sensor requests one run per area (watch them in the UI)")
    last = None
    while all(child.poll() is None for child in children):
        rows = area_status(engine)
        source = sum(row["source_rows"] for row in rows)
        synced = sum(row["synced_rows"] for row in rows)
        pending = sum(row["pending"] for row in rows)
        poison = sum(row["poison_rows"] for row in rows)
        line = f"  synced {synced}/{source} listings, {pending} pending" + (f", {poison} failed" if poison else "")
        if line != last:
            click.echo(f"{line}  ({time.monotonic() - started:.0f}s)")
            last = line
        if pending == 0:
            click.echo(f"initial sync done in {time.monotonic() - started:.1f}s")
            return
        time.sleep(2)


@click.command()
@click.option("--limit", type=click.IntRange(min=1), help="Load only the first N rows of the CSV.")
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the Dagster UI listens on.")
@click.option("--web-port", default=8000, show_default=True, help="Port of the search page (gfl web).")
def up(limit: Optional[int], port: int, host: str, web_port: int) -> None:
    """Run the whole loop: load the CSV, start the Dagster UI and daemon, sync everything.

    Keeps running (the sensor syncs every change) until Ctrl-C, which stops the
    UI, the daemon and the embedded Postgres.
    """
    from gfl_dagster.cli.runs import dagster_home, project_instance, project_resources, run_load
    from gfl_dagster.cli.web import loopback

    if not loopback(host):
        click.secho(f"warning: listening on {host}: the Dagster UI and the search page have no authentication; "
                    "anyone who reaches this address can run jobs, search and record feedback", fg="yellow", err=True)

    # `kill` (SIGTERM) stops as cleanly as Ctrl-C, from any launch context. A shell script that starts
    # us with `&` leaves SIGINT ignored, and Dagster's setup_interrupt_handlers() copies SIGINT's
    # disposition onto SIGTERM: both would be ignored here and in every child, which inherit it.
    # Handling both first makes the copy a handler, and the children start with the default.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    home = dagster_home()
    logs = settings.gfl_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    pid_file = settings.gfl_home() / "up.pid"
    stopped = stop_leftovers(pid_file)
    if stopped:
        click.echo(f"stopped what a previous gfl up left running (pids {', '.join(map(str, stopped))})")
    for wanted, what in ((port, "--port"), (web_port, "--web-port")):
        holder = port_holder(host, wanted)
        if holder:
            fail(f"port {wanted} on {host} is taken ({holder}); stop it or choose another {what}")
    instance = project_instance()
    with project_resources() as resources:
        click.echo(f"database: {resources.database.redacted_url()}")
        click.echo(load_summary(run_load(instance, None, limit)))
        ensure_loaded(instance, resources, limit)
        engine = resources.database.engine()

    target = ["-m", "gfl_dagster.definitions"]
    children = [
        start_process([dagster_command("dagster-webserver"), *target, "-h", host, "-p", str(port)], logs / "webserver.log"),
        start_process([dagster_command("dagster-daemon"), "run", *target], logs / "daemon.log"),
        start_process([dagster_command("gfl"), "web", "--host", host, "--port", str(web_port)], logs / "web.log"),
    ]
    # If we die without cleaning up (SIGKILL), the next gfl up finds and stops what we started.
    pid_file.write_text(json.dumps({"up": os.getpid(), "children": [child.pid for child in children]}))
    click.echo(f"Dagster UI: http://{host}:{port}  (DAGSTER_HOME={home}, logs in {logs})")
    click.echo(f"search page: http://{host}:{web_port}")
    try:
        _watch_initial_sync(engine, children)
        click.echo("Try: gfl search \"apartment with a great view\"  |  gfl simulate  |  gfl status. Ctrl-C stops.")
        while all(child.poll() is None for child in children):
            time.sleep(1)
        click.secho("a Dagster process exited; see the logs in " + str(logs), fg="red", err=True)
    except KeyboardInterrupt:
        click.echo("\nstopping")
    finally:
        for child in children:
            stop_process(child)
        if not settings.is_set(settings.DATABASE_URL):
            from gfl_dagster.db.embedded_postgres import stop_embedded_postgres

            stop_embedded_postgres(settings.gfl_home())
        pid_file.unlink(missing_ok=True)
        click.echo("stopped")
