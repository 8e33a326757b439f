"""A throwaway project (embedded Postgres + Dagster instance in a temporary folder) for benchmarks."""

from __future__ import annotations

import os
import platform
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from gfl_dagster import settings


@contextmanager
def throwaway_project() -> Iterator[Path]:
    """Benchmarks never touch the user's data: DATABASE_URL is ignored, all state is temporary."""
    os.environ.pop(settings.DATABASE_URL, None)
    saved = {key: os.environ.get(key) for key in (settings.GFL_HOME, "DAGSTER_HOME")}
    with tempfile.TemporaryDirectory(prefix="gfl-bench-") as scratch:
        os.environ[settings.GFL_HOME] = scratch
        os.environ["DAGSTER_HOME"] = str(Path(scratch) / "dagster")
        try:
            yield Path(scratch)
        finally:
            from gfl_dagster.db.embedded_postgres import stop_embedded_postgres

            stop_embedded_postgres(Path(scratch))
            for key, value in saved.items():
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, Python {platform.python_version()}"
