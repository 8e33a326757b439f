"""The project's tables live in the schema `gfl`, never in `public` (which Supabase serves to the anon key).

Against the real embedded Postgres: a database shaped as Supabase ships one (pgvector in `extensions`, `public`
closed, a login role whose own search_path names neither), and a database made before the `gfl` schema.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from importlib import resources as package_files

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from gfl_dagster.resources import database as database_module
from gfl_dagster.resources.database import PostgresResource, libpq_url
from gfl_dagster_tests.conftest import _TABLES

_ROW = ("INSERT INTO gfl.listings (id, name, neighbourhood_group, neighbourhood, latitude, longitude, room_type, price) "
        "VALUES (%s, 'Sunny loft', 'Brooklyn', 'Williamsburg', 40.7, -73.9, 'Entire home/apt', 120)")


def _project_relations(cursor, schema: str) -> set[str]:
    cursor.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE n.nspname = %s AND c.relkind IN ('r', 'S')", (schema,))
    return {name for (name,) in cursor.fetchall()} & {*_TABLES, "listing_version_seq", "gfl_schema_version"}


@contextmanager
def scratch_database(database, name: str, owner: str = "postgres"):
    """A database of its own on the embedded server, dropped afterwards with whatever engine used it."""
    admin_url = make_url(database.url())
    admin = psycopg2.connect(libpq_url(admin_url.render_as_string(hide_password=False)))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name} OWNER {owner}")
    url = admin_url.set(database=name)
    try:
        yield url
    finally:
        for key in [key for key in database_module._ENGINES if f"/{name}" in key]:
            database_module._ENGINES.pop(key).dispose()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def _connect(url, **changes):
    return psycopg2.connect(libpq_url(url.set(**changes).render_as_string(hide_password=False)))


def test_every_project_table_is_in_gfl_and_none_in_public(database):
    with database.engine().connect() as connection:
        cursor = connection.connection.cursor()
        assert _project_relations(cursor, "public") == set()
        assert _project_relations(cursor, "gfl") >= {*_TABLES, "listing_version_seq", "gfl_schema_version"}


def test_schema_applies_as_a_role_whose_search_path_names_neither_gfl_nor_public(database):
    """Supabase's shape: pgvector in `extensions`, nobody may create in `public`, and the role's own default
    search_path is restricted. The schema applies, the loop's tables work, and an anon-like role sees nothing."""
    admin = _connect(make_url(database.url()))
    admin.autocommit = True
    with admin.cursor() as cursor:
        for role in ("gfl_app", "gfl_anon"):
            cursor.execute(f"DROP ROLE IF EXISTS {role}")
            cursor.execute(f"CREATE ROLE {role} LOGIN")
        cursor.execute("ALTER ROLE gfl_app SET search_path = pg_catalog")
    try:
        with scratch_database(database, "gfl_supabase_like", owner="gfl_app") as url:
            with _connect(url) as setup, setup.cursor() as cursor:  # what the Supabase platform does, as superuser
                cursor.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
                cursor.execute("CREATE SCHEMA extensions; GRANT USAGE ON SCHEMA extensions TO PUBLIC")
                cursor.execute("CREATE EXTENSION vector SCHEMA extensions")
                cursor.execute("GRANT USAGE ON SCHEMA public TO gfl_anon")
            setup.close()

            app_url = url.set(username="gfl_app")
            engine = PostgresResource(database_url=app_url.render_as_string(hide_password=False)).start()
            with engine.begin() as connection:
                connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")  # as the pgvector store does
                connection.exec_driver_sql("CREATE TABLE scratch_vectors (v vector(3))")

            # An application on Supabase writes with its own search_path: the triggers still stamp and tombstone.
            with _connect(app_url) as app, app.cursor() as cursor:
                cursor.execute("SHOW search_path")
                assert "gfl" not in cursor.fetchone()[0]
                cursor.execute(_ROW, (1,))
                cursor.execute("SELECT version FROM gfl.listings WHERE id = 1")
                inserted = cursor.fetchone()[0]
                cursor.execute("UPDATE gfl.listings SET price = 99 WHERE id = 1 RETURNING version")
                assert cursor.fetchone()[0] > inserted
                cursor.execute("DELETE FROM gfl.listings WHERE id = 1")
                cursor.execute("SELECT count(*) FROM gfl.listing_tombstones WHERE listing_id = 1")
                assert cursor.fetchone()[0] == 1
                assert _project_relations(cursor, "public") == set()
                cursor.execute("SELECT to_regclass('gfl.scratch_vectors') IS NOT NULL")
                assert cursor.fetchone()[0]
            app.close()

            with _connect(url, username="gfl_anon") as anon, anon.cursor() as cursor:
                cursor.execute("SELECT has_schema_privilege('gfl', 'USAGE')")
                assert cursor.fetchone()[0] is False
            anon.close()
    finally:
        with admin.cursor() as cursor:
            for role in ("gfl_app", "gfl_anon"):
                cursor.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


def _schema_before_gfl() -> str:
    """schema.sql as it was before the `gfl` schema: everything in public."""
    schema = package_files.files("gfl_dagster.db").joinpath("schema.sql").read_text()
    schema, found = re.subn(r"CREATE SCHEMA IF NOT EXISTS gfl;.*?END \$\$;\n", "", schema, count=1, flags=re.S)
    assert found == 1
    return schema.replace("gfl.listing", "listing")


def test_a_database_made_before_the_gfl_schema_moves_there_with_its_rows(database):
    with scratch_database(database, "gfl_before_schema") as url:
        with _connect(url) as old, old.cursor() as cursor:
            cursor.execute(_schema_before_gfl())
            cursor.execute(_ROW.replace("gfl.", ""), (7,))
            cursor.execute("SELECT version FROM listings WHERE id = 7")
            version = cursor.fetchone()[0]
        old.close()

        engine = PostgresResource(database_url=url.render_as_string(hide_password=False)).start()
        with engine.begin() as connection:
            assert connection.exec_driver_sql("SELECT version FROM gfl.listings WHERE id = 7").scalar() == version
            bumped = connection.exec_driver_sql("UPDATE listings SET price = 1 WHERE id = 7 RETURNING version").scalar()
            assert bumped > version
            connection.exec_driver_sql("DELETE FROM listings WHERE id = 7")
            assert connection.exec_driver_sql("SELECT count(*) FROM gfl.listing_tombstones").scalar() == 1
            assert _project_relations(connection.connection.cursor(), "public") == set()
            routines = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'public' AND left(p.proname, 4) = 'gfl_'").scalar()
            assert routines == 0


@pytest.mark.parametrize("url", ["postgresql://u:p@host:5432/db", "postgresql://u:p@host/db?sslmode=require"])
def test_psql_urls_name_the_project_schema(url):
    from gfl_dagster.resources.database import psql_url

    printed = psql_url(url)
    assert "options=-csearch_path%3Dgfl" in printed and printed.startswith("postgresql://u:p@host")
    assert printed.count("?") == 1
