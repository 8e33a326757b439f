"""The operational Postgres: `DATABASE_URL` when set, else the embedded server.

The work is done Dagster-free in db/engine.py (which the quick commands use directly); this resource gives it
to assets, sensors and checks, with the URL as a Dagster `EnvVar` so the UI never shows it.
"""

from __future__ import annotations

from typing import Optional

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field
from sqlalchemy import Engine

# Re-exported: callers and tests import these from here (`_ENGINES` is the one engine cache, shared).
from gfl_dagster.db.engine import (  # noqa: F401
    _ENGINES,
    SEARCH_PATH,
    apply_schema,
    database_engine,
    libpq_url,
    psql_url,
    redacted,
    sqlalchemy_url,
    start_database,
    url_in_use,
)


class PostgresResource(ConfigurableResource):
    """Source database holding `listings`, generated descriptions and sync progress.

    With no `database_url`, a real PostgreSQL 16 with pgvector runs from the
    pgserver wheel under GFL_HOME (default `.gfl/` in the project). Start-up is
    explicit: Dagster starts it when it initializes the resource (runs, sensors,
    `build_resources`), the CLI and tests through `start()`; `engine()` and `url()` start nothing.
    """

    database_url: Optional[str] = Field(
        default=None,
        description="Postgres URL (Supabase or any Postgres 13+). Unset: the embedded Postgres.",
    )

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.start()

    def start(self) -> Engine:
        """Start (or join) the database, apply the schema once per process, return its pooled engine."""
        return start_database(self.database_url)

    def engine(self) -> Engine:
        """The engine of the running database; starts nothing (raises, naming `gfl db start`, if it is down)."""
        return database_engine(self.database_url)

    def url(self) -> str:
        """The connection URL in use, without starting anything."""
        return url_in_use(self.database_url)

    def redacted_url(self) -> str:
        return redacted(self.url())
