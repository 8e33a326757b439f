"""Dagster's production shape on Postgres, for real: `gfl up` started by a script in the background with
DAGSTER_PG_URL set; the webserver, the daemon and its run workers are separate processes that share runs and
events through dagster-postgres (on the embedded server, in a database of its own); the change sensor syncs a
change end to end through the queued run coordinator; SIGTERM stops everything."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import psycopg2
import psutil
from sqlalchemy.engine import make_url

from gfl_dagster.db.embedded_postgres import start_embedded_postgres, stop_embedded_postgres
from gfl_dagster.resources.database import libpq_url
from gfl_dagster_bench.common import create_dagster_database
from gfl_dagster_tests.background import free_port, up_in_background, wait_for

_RUNS = "{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }"


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30) as answer:
        return json.loads(answer.read())["data"]


def test_gfl_up_on_dagster_postgres_syncs_a_change_and_stops_on_sigterm(tmp_path):
    home, log = tmp_path / "home", tmp_path / "up.log"
    dagster_url = create_dagster_database(home)
    source_url = make_url(start_embedded_postgres(home))  # the running server, joined
    port, web_port = free_port(), free_port()
    pid = up_in_background(home, log, port, web_port, env={"DAGSTER_PG_URL": dagster_url})
    children: list[int] = []
    try:
        wait_for(log, "initial sync done", seconds=240)
        ignored = int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                           if line.startswith("SigIgn")).split()[1], 16)
        assert not ignored & (1 << (signal.SIGTERM - 1)), "SIGTERM is ignored"
        instance_yaml = (home / "dagster" / "dagster.yaml").read_text()
        assert "QueuedRunCoordinator" in instance_yaml and "env: DAGSTER_PG_URL" in instance_yaml
        assert dagster_url not in instance_yaml, "the instance file holds the URL's name, never the URL"
        assert not list((home / "dagster").rglob("*.db")), "nothing of Dagster's is in sqlite"

        source = psycopg2.connect(libpq_url(source_url.render_as_string(hide_password=False)))
        source.autocommit = True
        with source.cursor() as cursor:
            cursor.execute("UPDATE gfl.listings SET price = price + 1 WHERE id = (SELECT min(id) FROM gfl.listings) "
                           "RETURNING id, version")
            listing_id, version = cursor.fetchone()
            deadline = time.monotonic() + 90
            while True:
                cursor.execute("SELECT synced_version FROM gfl.listing_sync WHERE listing_id = %s", (listing_id,))
                if (cursor.fetchone() or [0])[0] >= version:
                    break
                assert time.monotonic() < deadline, "the change was never synced"
                time.sleep(0.5)
        source.close()

        dagster_db = psycopg2.connect(dagster_url)
        dagster_db.autocommit = True
        with dagster_db.cursor() as cursor:
            deadline = time.monotonic() + 90
            while True:  # the run that synced the change goes on to its ads step: let it end
                cursor.execute("SELECT run_id, status FROM runs WHERE pipeline_name = 'sync_area'")
                stored = dict(cursor.fetchall())
                if not {"QUEUED", "NOT_STARTED", "STARTING", "STARTED"} & set(stored.values()):
                    break
                assert time.monotonic() < deadline, stored
                time.sleep(0.5)
            cursor.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
            materializations = cursor.fetchone()[0]
        dagster_db.close()
        assert stored and set(stored.values()) == {"SUCCESS"}, stored
        assert materializations >= len(stored)
        # The webserver, another process, reads the same runs from Postgres.
        shown = {run["runId"] for run in _graphql(port, _RUNS)["runsOrError"]["results"]}
        assert set(stored) <= shown

        children = [child.pid for child in psutil.Process(pid).children()]
        os.kill(pid, signal.SIGTERM)
        psutil.Process(pid).wait(timeout=60)
        assert "stopped" in log.read_text()
        assert not [c for c in children if psutil.pid_exists(c) and psutil.Process(c).status() != psutil.STATUS_ZOMBIE]
    finally:
        for leftover in [pid, *children]:
            if psutil.pid_exists(leftover):
                os.kill(leftover, signal.SIGKILL)
        stop_embedded_postgres(home)
