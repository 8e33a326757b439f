"""Model changes without downtime on pgvector: the next generation is built beside the live one.

The live generation is a source's vector and sync tables (listings: `listing_vectors`, `listing_sync`) and
`vector_store_meta` in the schema `gfl`; it
serves every search, with queries embedded by the model it was built with (recorded in its meta), and its
sync goes on during the build, so changes keep reaching search. When the configured embedding model differs
from the live one, the same sync step (listings/embed.py, unchanged) also fills the same three tables in the
schema `gfl_next`, through connections whose search_path names `gfl_next` first: the SQL is the live one's.
Once no listing is missing from or stale in the next generation, one transaction swaps the schemas of the
three tables (searches wait a moment on the lock, never see a partial store) and drops the old generation.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, Optional

from sqlalchemy import Engine, create_engine, text

from gfl_dagster.db import pgvector_sql, queries
from gfl_dagster.db.engine import SEARCH_PATH, use_search_path
from gfl_dagster.spec import SourceSpec

NEXT_SCHEMA = "gfl_next"

_SERVING = 7419003  # advisory lock: vector sync steps hold it shared, a switch exclusive
_SERVING_SHARED = text(f"SELECT pg_advisory_lock_shared({_SERVING})")
_SERVING_UNLOCK = text(f"SELECT pg_advisory_unlock_shared({_SERVING})")


def generation_tables(spec: SourceSpec) -> tuple[str, ...]:
    return spec.vector_table, spec.sync_table, "vector_store_meta"


def _next_exists(spec: SourceSpec):
    return text(f"SELECT to_regclass('{NEXT_SCHEMA}.{spec.sync_table}') IS NOT NULL")


def _prepare_next(spec: SourceSpec) -> list[str]:
    return [
        f"CREATE SCHEMA IF NOT EXISTS {NEXT_SCHEMA}",
        f"CREATE TABLE IF NOT EXISTS {NEXT_SCHEMA}.{spec.sync_table} (LIKE gfl.{spec.sync_table} INCLUDING ALL)",
        f"CREATE TABLE IF NOT EXISTS {NEXT_SCHEMA}.vector_store_meta (LIKE gfl.vector_store_meta INCLUDING ALL)",
    ]


def _switch(spec: SourceSpec) -> list[str]:
    """Out of the way first (index names are unique per schema), then in; the old generation goes with its schema."""
    return [
        "SET LOCAL lock_timeout = '10s'",
        f"SELECT pg_advisory_xact_lock({_SERVING})",
        "CREATE SCHEMA gfl_retired",
        *[f"ALTER TABLE gfl.{table} SET SCHEMA gfl_retired" for table in generation_tables(spec)],
        *[f"ALTER TABLE {NEXT_SCHEMA}.{table} SET SCHEMA gfl" for table in generation_tables(spec)],
        "DROP SCHEMA gfl_retired CASCADE",
        f"DROP SCHEMA {NEXT_SCHEMA} CASCADE",
    ]


_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def live_model(engine: Engine, spec: SourceSpec) -> Optional[str]:
    """The embedding model of the vectors search serves; None before the first sync."""
    with engine.connect() as connection:
        row = connection.execute(pgvector_sql.statements(spec).read_meta).first()
    return None if row is None else row.model


def next_engine(engine: Engine) -> Engine:
    """Connections to the same database that read and write the next generation's tables."""
    key = engine.url.render_as_string(hide_password=False)
    with _LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = use_search_path(create_engine(engine.url, pool_pre_ping=True, pool_size=2, max_overflow=2),
                                            f"{NEXT_SCHEMA}, {SEARCH_PATH}")
        return _ENGINES[key]


def building(engine: Engine, spec: SourceSpec) -> bool:
    with engine.connect() as connection:
        return bool(connection.execute(_next_exists(spec)).scalar())


def prepare_next(engine: Engine, spec: SourceSpec) -> Engine:
    """The next generation's tables (the store's own `ensure` adds its vectors table); its engine."""
    with engine.begin() as connection:
        connection.execute(pgvector_sql.LOCK_STORE)
        for statement in _prepare_next(spec):
            connection.exec_driver_sql(statement)
    return next_engine(engine)


def abandon_next(engine: Engine, spec: SourceSpec) -> bool:
    """The configured model is the live one again: a half-built next generation is dropped."""
    if not building(engine, spec):
        return False
    with engine.begin() as connection:
        connection.execute(pgvector_sql.LOCK_STORE)
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {NEXT_SCHEMA} CASCADE")
    return True


def next_progress(engine: Engine, spec: SourceSpec, poison_attempts: int) -> Optional[dict]:
    """The next generation's model and how far it is: rows synced at their current version, pending."""
    if not building(engine, spec):
        return None
    building_engine = next_engine(engine)
    with building_engine.connect() as connection:
        model = connection.execute(pgvector_sql.statements(spec).read_meta).first()
        rows = list(connection.execute(queries.STATUS_BY_AREA, {"poison_attempts": poison_attempts}).mappings())
    return {"model": None if model is None else model.model,
            "source": sum(row["source_rows"] for row in rows), "synced": sum(row["synced_rows"] for row in rows),
            "pending": sum(row["pending"] for row in rows),
            "pending_areas": sorted(row["area"] for row in rows if row["pending"])}


def switch_if_complete(engine: Engine, spec: SourceSpec, poison_attempts: int) -> Optional[str]:
    """Make the next generation live if nothing is missing from it or stale in it; the model it switched to.

    Checked under the store's lock, which every `ensure` and every switch takes: count and staleness pass
    on the next generation before it serves. A change committed after the check is pending in the new live
    generation, and the next sync of its area writes it.
    """
    if not building(engine, spec):
        return None
    with engine.begin() as connection:
        connection.execute(pgvector_sql.LOCK_STORE)
        progress = next_progress(engine, spec, poison_attempts)
        if progress is None or progress["model"] is None or progress["pending"] or not progress["source"]:
            return None
        for statement in _switch(spec):
            connection.exec_driver_sql(statement)
    return progress["model"]


def next_pending_by_area(engine: Engine, spec: SourceSpec, configured_model: str,
                         poison_attempts: int) -> dict[str, tuple[int, float]]:
    """For the change sensor's sweep: areas with work for a next generation (every area before it exists)."""
    live = live_model(engine, spec)
    if live is None or live == configured_model:
        return {}
    if not building(engine, spec):
        with engine.connect() as connection:
            return {row.area: (row.listings, 0.0) for row in connection.execute(queries.LIST_AREAS)}
    with next_engine(engine).connect() as connection:
        return {row.area: (row.pending, float(row.oldest_s or 0.0))
                for row in connection.execute(queries.PENDING_BY_AREA, {"poison_attempts": poison_attempts})}


@contextmanager
def serving_generation(engine: Engine) -> Iterator[None]:
    """Held by every vector sync step (shared), so a switch (exclusive) never lands in the middle of one."""
    with engine.connect() as connection:
        connection.execute(_SERVING_SHARED)
        connection.commit()
        try:
            yield
        finally:
            connection.execute(_SERVING_UNLOCK)
            connection.commit()
