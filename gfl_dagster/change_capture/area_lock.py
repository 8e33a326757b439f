"""One writer per area and stage, across processes: a Postgres advisory lock.

The sensor never requests two runs for one area, but a run launched from the UI or
the CLI may overlap one; the lock makes the second wait instead of interleaving.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine

from gfl_dagster.db import queries


def lock_key(stage: str, area: str) -> str:
    """The advisory lock's key: the runs, and the fast path (which tries it instead of waiting), use this one."""
    return f"gfl:{stage}:{area}"


@contextmanager
def area_lock(engine: Engine, stage: str, area: str) -> Iterator[None]:
    key = lock_key(stage, area)
    with engine.connect() as connection:
        connection.execute(queries.AREA_LOCK, {"key": key})
        try:
            yield
        finally:
            connection.execute(queries.AREA_UNLOCK, {"key": key})
            connection.commit()
