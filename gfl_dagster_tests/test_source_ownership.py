"""The source belongs to its owner: `gfl up` and `gfl sync` write a CSV into `listings` only on the embedded
default's first start or when asked (`--load`, `gfl load`), never on a restart, never into DATABASE_URL's table."""

import os
import re
import signal
import subprocess
import time
import uuid

import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gfl_dagster.db import queries
from gfl_dagster.db.embedded_postgres import embedded_postgres_url, stop_embedded_postgres
from gfl_dagster.db.engine import database_engine
from gfl_dagster.listings.load import load_listings_csv
from gfl_dagster_tests.background import GFL, free_port, up_in_background, wait_for
from gfl_dagster_tests.conftest import BUNDLED_CSV, HEADER_18, write_csv

_SOURCE = text("SELECT id, version, price, xmin::text AS written_by FROM listings ORDER BY id")
_STORE = text("SELECT listing_id, source_version FROM listing_vectors ORDER BY listing_id")


def _stop(pid: int) -> None:
    if psutil.pid_exists(pid):
        os.kill(pid, signal.SIGTERM)
        try:
            psutil.Process(pid).wait(timeout=60)
        except psutil.NoSuchProcess:
            pass


def _synced(engine, seconds: float = 120) -> dict[int, int]:
    """The store's (listing id -> version) once nothing is pending."""
    deadline = time.monotonic() + seconds
    while True:
        with engine.connect() as connection:
            pending = connection.execute(queries.PENDING_BY_AREA, {"poison_attempts": 3}).all()
            if not pending:
                return dict(connection.execute(_STORE).all())
        assert time.monotonic() < deadline, f"still pending: {pending}"
        time.sleep(1)


def test_a_restart_under_gfl_up_keeps_an_update_a_delete_and_an_insert(tmp_path):
    home, ports = tmp_path / "home", [free_port(), free_port()]
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = up_in_background(home, first_log, *ports, options="--limit 30")
    second = None
    try:
        wait_for(first_log, "initial sync done")
        said = first_log.read_text()
        # Said at once, before the imports and the database's start: no silent first seconds.
        assert said.startswith("gfl up: starting in ") and said.index("starting the database") < said.index("database:")
        assert "first start: the listings table is empty, loading" in said and "loading: 100% (30/30 rows)" in said
        assert re.search(r"initial sync: +\d+% \(\d+/30 listings\), .* left", said), said
        engine = database_engine(embedded_postgres_url(home))
        with engine.begin() as connection:
            ids = [row.id for row in connection.execute(_SOURCE)]
            updated, deleted = ids[0], ids[1]
            connection.execute(text("UPDATE listings SET price = price + 17 WHERE id = :id"), {"id": updated})
            connection.execute(queries.SIMULATE_DELETE, {"id": deleted})
            inserted = connection.execute(queries.FRESHNESS_INSERT, {"jitter": 0.0001, "id": ids[2]}).one().id
        changed = {row.id: row for row in engine.connect().execute(_SOURCE)}
        assert _synced(engine)[updated] == changed[updated].version
        engine.dispose()
        _stop(first)

        second = up_in_background(home, second_log, *ports, options="--limit 30")
        wait_for(second_log, "initial sync done")
        said = second_log.read_text()
        assert f"the listings table holds {len(changed)} rows: kept as they are" in said and "loaded " not in said
        engine = database_engine(embedded_postgres_url(home))
        with engine.connect() as connection:
            source = {row.id: row for row in connection.execute(_SOURCE)}
        assert source == changed  # not a row written by the restart: same versions, same writing transactions
        assert deleted not in source and inserted in source and source[updated].price == changed[updated].price
        store = _synced(engine)
        assert store == {listing_id: row.version for listing_id, row in source.items()}
        engine.dispose()
    finally:
        for pid in (first, second):
            if pid:
                _stop(pid)
        stop_embedded_postgres(home)


def _other_database(database) -> str:
    """A database of its own on the session's embedded server: the URL a user would set as DATABASE_URL."""
    name = f"owner_{uuid.uuid4().hex[:8]}"
    with database.engine().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    return make_url(database.url()).set(database=name).render_as_string(hide_password=False)


def test_a_start_on_a_database_whose_listings_hold_other_rows_writes_nothing_to_them(tmp_path, database):
    url = _other_database(database)
    owner = database_engine(url)
    theirs = write_csv(tmp_path / "theirs.csv", HEADER_18,
                       "9100001,Loft by the canal,7,Ana,Mitte,Mitte,52.52,13.40,Entire home/apt,120,2,14,2024-05-01,0.5,1,200,3,",
                       "9100002,Room near the park,8,Ben,Kreuzberg,Kreuzberg,52.49,13.42,Private room,45,1,3,,,1,90,0,")
    load_listings_csv(owner, theirs)
    with owner.connect() as connection:
        before = connection.execute(_SOURCE).all()

    home, ports, log = tmp_path / "home", [free_port(), free_port()], tmp_path / "up.log"
    up = up_in_background(home, log, *ports, env={"DATABASE_URL": url, "GFL_CSV": str(BUNDLED_CSV)}, options="")
    try:
        wait_for(log, "initial sync done")
    finally:
        _stop(up)
    assert "the listings table holds 2 rows: kept as they are" in log.read_text()
    with owner.connect() as connection:
        assert connection.execute(_SOURCE).all() == before  # not one write, not one row of the bundled file
        assert dict(connection.execute(_STORE).all()) == {row.id: row.version for row in before}

    # gfl sync in a process of its own: the resources read DATABASE_URL when the code location is imported.
    empty = _other_database(database)
    env = {**os.environ, "DATABASE_URL": empty, "GFL_CSV": str(BUNDLED_CSV), "GFL_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    synced = subprocess.run([str(GFL), "sync", "--limit", "5"], env=env, capture_output=True, text=True, timeout=300)
    assert synced.returncode == 0, synced.stderr[-3000:]
    assert "the listings table of DATABASE_URL is empty: nothing is loaded into it unless asked" in synced.stdout
    with database_engine(empty).connect() as connection:
        assert connection.execute(queries.COUNT_LISTINGS).scalar_one() == 0
    asked = subprocess.run([str(GFL), "sync", "--load", str(BUNDLED_CSV), "--limit", "5", "--partition", "Manhattan"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert asked.returncode == 0, asked.stderr[-3000:]
    assert "into the listings table, as asked (--load)" in asked.stdout and "5 inserted" in asked.stdout
    with database_engine(empty).connect() as connection:
        assert connection.execute(queries.COUNT_LISTINGS).scalar_one() == 5


def test_a_table_emptied_by_deletes_is_not_a_first_start(engine):
    """On the embedded default too, only a table that never held a row gets the default CSV."""
    from click.testing import CliRunner

    from gfl_dagster.cli.main import cli

    load_listings_csv(engine, BUNDLED_CSV, limit=3)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM listings"))
    synced = CliRunner().invoke(cli, ["sync", "--limit", "3"])
    assert synced.exit_code == 0, synced.output
    assert "the listings table is empty, its rows deleted: nothing reloaded" in synced.output
    with engine.connect() as connection:
        assert connection.execute(queries.COUNT_LISTINGS).scalar_one() == 0


def test_raw_listings_loads_into_database_url_only_a_file_named(monkeypatch):
    from gfl_dagster.listings.assets import source_file

    monkeypatch.delenv("GFL_CSV", raising=False)
    assert source_file(None).endswith("AB_NYC_2023.csv")  # the embedded default: the bundled file
    monkeypatch.setenv("DATABASE_URL", "postgresql://owner@db.example/app")
    with pytest.raises(ValueError, match="name the file to load"):  # not the bundled file into their table
        source_file(None)
    assert source_file("/data/mine.csv") == "/data/mine.csv"
    monkeypatch.setenv("GFL_CSV", str(BUNDLED_CSV))
    assert source_file(None) == str(BUNDLED_CSV.resolve())
