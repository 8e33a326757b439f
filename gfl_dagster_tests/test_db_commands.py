"""`gfl db start` and `gfl db stop` on an embedded Postgres of their own: the explicit start the engine's message
names; asking for an engine starts nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gfl_dagster.db.embedded_postgres import embedded_postgres_url, stop_embedded_postgres
from gfl_dagster.db.engine import url_in_use
from gfl_dagster.resources.database import PostgresResource


def gfl(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    return subprocess.run([str(Path(sys.executable).parent / "gfl"), *args], capture_output=True, text=True,
                          timeout=300, env={**env, "GFL_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")})


def test_db_start_starts_what_asking_for_the_url_names_and_stop_stops_it(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("GFL_HOME", str(home))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    try:
        with pytest.raises(RuntimeError, match="gfl db start"):  # nothing started: the message names the start
            url_in_use(None)
        with pytest.raises(RuntimeError, match="gfl db start"):  # asking for an engine starts nothing either
            PostgresResource().engine()
        assert embedded_postgres_url(home) is None
        started = gfl(home, "db", "start")
        assert started.returncode == 0, started.stderr[-2000:]
        assert "database ready at postgresql" in started.stdout
        assert embedded_postgres_url(home) is not None and url_in_use(None) == embedded_postgres_url(home)
        stopped = gfl(home, "db", "stop")
        assert stopped.returncode == 0 and "embedded Postgres stopped" in stopped.stdout
        assert embedded_postgres_url(home) is None
    finally:
        stop_embedded_postgres(home)
