"""The source database's engine, without Dagster: URL spellings, the project's schema, start or join, one pool.

`resources/database.py` (PostgresResource, for assets, sensors and checks) delegates here; the commands
that must answer at once (`gfl search`, `gfl show`, `gfl recommend`) call it directly, so they do not pay
for importing Dagster.
"""

from __future__ import annotations

import hashlib
import threading
from importlib import resources as package_files
from typing import Callable, Optional

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from gfl_dagster import settings
from gfl_dagster.db import queries
from gfl_dagster.db.embedded_postgres import embedded_postgres_url, start_embedded_postgres

_ENGINES: dict[str, Engine] = {}  # one pooled engine per database and process
_LOCK = threading.Lock()
# The project's tables live in their own schema (schema.sql says why); `extensions` is where Supabase keeps pgvector.
SEARCH_PATH = "gfl, public, extensions"


def sqlalchemy_url(url: str) -> str:
    """Accept the spellings users paste (postgres://, postgresql://) and pick the driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def libpq_url(url: str) -> str:
    """The same URL as psql and other libpq tools take it."""
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


def psql_url(url: str) -> str:
    """The URL for psql and other libpq tools, with the project's schema first on their search_path."""
    separator = "&" if "?" in url else "?"
    return libpq_url(url) + separator + "options=-csearch_path%3D" + SEARCH_PATH.replace(" ", "")


def use_search_path(engine: Engine, search_path: str = SEARCH_PATH) -> Engine:
    """Every connection of `engine` resolves unqualified names through `search_path`."""
    def set_on_connect(dbapi_connection, _record) -> None:
        # A SET on connect, not a startup `options` parameter: poolers (Supabase's Supavisor, PgBouncer) drop those.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET search_path TO {search_path}")
        dbapi_connection.autocommit = autocommit

    event.listen(engine, "connect", set_on_connect)
    return engine


# The shared machinery's DDL and the listings' (schema.sql), then each further source's, in one transaction.
SCHEMA_FILES = ("schema.sql", "reviews.sql")


def apply_schema(engine: Engine) -> None:
    """Apply the schema files once per version of them.

    Re-running their DDL on every process start would take exclusive locks on
    `listings` and queue behind any long application transaction.
    """
    schema = "\n".join(package_files.files("gfl_dagster.db").joinpath(name).read_text() for name in SCHEMA_FILES)
    version = hashlib.sha256(schema.encode()).hexdigest()
    with engine.begin() as connection:
        applied = (connection.execute(queries.APPLIED_SCHEMA_VERSION).scalar()
                   if connection.execute(queries.SCHEMA_VERSION_TABLE_EXISTS).scalar() else None)
        if applied == version:
            return
        connection.exec_driver_sql(schema)
        connection.execute(queries.RECORD_SCHEMA_VERSION, {"version": version})


def _engine(database_url: Optional[str], embedded_url: Callable[[], str]) -> Engine:
    """The process's pooled engine of the database, its schema applied once; `embedded_url` when none is set."""
    key = database_url or f"embedded:{settings.gfl_home()}"
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            url = sqlalchemy_url(database_url) if database_url else embedded_url()
            engine = use_search_path(create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5))
            apply_schema(engine)
            _ENGINES[key] = engine
    return engine


def start_database(database_url: Optional[str]) -> Engine:
    """Start (or join) the database, apply the schema once per process, return its pooled engine.

    `database_url` None: the embedded Postgres under GFL_HOME, started if it is not running.
    """
    return _engine(database_url, lambda: start_embedded_postgres(settings.gfl_home()))


def database_engine(database_url: Optional[str]) -> Engine:
    """The pooled engine of the running database; starts nothing (`start_database` does, `gfl db start` too).

    Raises RuntimeError naming the way to start it when the embedded Postgres is not running.
    """
    return _engine(database_url, lambda: url_in_use(None))


def url_in_use(database_url: Optional[str]) -> str:
    """The connection URL in use, without starting anything."""
    if database_url:
        return sqlalchemy_url(database_url)
    url = embedded_postgres_url(settings.gfl_home())
    if url is None:
        raise RuntimeError(f"the embedded Postgres in {settings.gfl_home()} is not running "
                           "(`gfl up` or `gfl db start` starts it)")
    return url


def redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
