"""The operational Postgres: `DATABASE_URL` when set, else the embedded server."""

from __future__ import annotations

import hashlib
import threading
from importlib import resources as package_files
from typing import Optional

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from gfl_dagster import settings
from gfl_dagster.db import queries
from gfl_dagster.db.embedded_postgres import start_embedded_postgres

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def sqlalchemy_url(url: str) -> str:
    """Accept the spellings users paste (postgres://, postgresql://) and pick the driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def libpq_url(url: str) -> str:
    """The same URL as psql and other libpq tools take it."""
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


def apply_schema(engine: Engine) -> None:
    """Apply schema.sql once per version of it.

    Re-running its DDL on every process start would take exclusive locks on
    `listings` and queue behind any long application transaction.
    """
    schema = package_files.files("gfl_dagster.db").joinpath("schema.sql").read_text()
    version = hashlib.sha256(schema.encode()).hexdigest()
    with engine.begin() as connection:
        applied = (connection.execute(queries.APPLIED_SCHEMA_VERSION).scalar()
                   if connection.execute(queries.SCHEMA_VERSION_TABLE_EXISTS).scalar() else None)
        if applied == version:
            return
        connection.exec_driver_sql(schema)
        connection.execute(queries.RECORD_SCHEMA_VERSION, {"version": version})


class PostgresResource(ConfigurableResource):
    """Source database holding `listings`, generated descriptions and sync progress.

    With no `database_url`, a real PostgreSQL 16 with pgvector starts from the
    pgserver wheel under GFL_HOME (default `.gfl/` in the project).
    """

    database_url: Optional[str] = Field(
        default=None,
        description="Postgres URL (Supabase or any Postgres 13+). Unset: the embedded Postgres.",
    )

    def url(self) -> str:
        if self.database_url:
            return sqlalchemy_url(self.database_url)
        return start_embedded_postgres(settings.gfl_home())

    def redacted_url(self) -> str:
        return make_url(self.url()).render_as_string(hide_password=True)

    def engine(self) -> Engine:
        """A pooled engine with the schema applied (once per process)."""
        url = self.url()
        with _LOCK:
            engine = _ENGINES.get(url)
            if engine is None:
                engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
                apply_schema(engine)
                _ENGINES[url] = engine
        return engine
