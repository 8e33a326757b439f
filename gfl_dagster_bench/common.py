"""What every benchmark shares: a throwaway project, the machine's description, one percentile."""

from __future__ import annotations

import math
import os
import platform
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Sequence

from gfl_dagster import settings

BENCH_COLLECTION = "GflBench"


@contextmanager
def throwaway_project(prefix: str = "gfl-bench-", dagster_on_postgres: bool = False,
                      keep: Optional[Path] = None) -> Iterator[Path]:
    """The block runs on a project of its own in a temporary folder: its own embedded Postgres and
    Dagster instance (DATABASE_URL is ignored) and, when Weaviate is configured, a collection of its
    own. The instance is the one `gfl up` runs (the package's dagster.yaml).

    `dagster_on_postgres`: Dagster's own storage in a database `dagster` of that embedded Postgres
    (DAGSTER_PG_URL), as a production deployment keeps it in a Postgres of its own.

    Whatever the block started must be stopped inside it; on the way out the embedded Postgres is
    stopped, then the folder deleted (a leftover file never turns the figures into a crash).

    `keep`: the project lives in this folder instead and stays there (its Postgres stopped), for a
    later benchmark to measure on without building it again.
    """
    names = (settings.DATABASE_URL, settings.GFL_HOME, settings.DAGSTER_HOME, settings.GFL_WEAVIATE_COLLECTION,
             settings.DAGSTER_PG_URL, "XDG_RUNTIME_DIR")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.pop(settings.DATABASE_URL, None)
    os.environ.pop(settings.DAGSTER_PG_URL, None)
    # pgserver keeps its lock file in XDG_RUNTIME_DIR and touches it again at exit: outside the scratch folder.
    runtime = Path(tempfile.gettempdir()) / f"gfl-runtime-{os.getuid()}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    with _project_folder(prefix, keep) as scratch:
        os.environ[settings.GFL_HOME] = scratch
        os.environ[settings.DAGSTER_HOME] = str(Path(scratch) / "dagster")
        os.environ[settings.GFL_WEAVIATE_COLLECTION] = BENCH_COLLECTION
        try:
            if dagster_on_postgres:
                os.environ[settings.DAGSTER_PG_URL] = create_dagster_database(Path(scratch))
            yield Path(scratch)
        finally:
            from gfl_dagster.db.embedded_postgres import stop_embedded_postgres

            stop_embedded_postgres(Path(scratch))
            for name, value in saved.items():
                os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)


@contextmanager
def _project_folder(prefix: str, keep: Optional[Path]) -> Iterator[str]:
    if keep is None:
        with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as scratch:
            yield scratch
        return
    keep.mkdir(parents=True, exist_ok=True)
    yield str(keep.resolve())


def create_dagster_database(home: Path) -> str:
    """A database `dagster` beside the project's in the embedded Postgres under `home`; its libpq URL."""
    import psycopg2
    from sqlalchemy.engine import make_url

    from gfl_dagster.db.embedded_postgres import start_embedded_postgres
    from gfl_dagster.resources.database import libpq_url

    url = make_url(start_embedded_postgres(home))
    admin = psycopg2.connect(libpq_url(url.render_as_string(hide_password=False)))
    admin.autocommit = True
    admin.cursor().execute("CREATE DATABASE dagster")
    admin.close()
    return libpq_url(url.set(database="dagster").render_as_string(hide_password=False))


def embedder_texts_per_s(embedder, texts: Sequence[str], batch_size: int = 64) -> float:
    """The embedder alone on `texts`, in the sync's batches of 64, after an untimed warm-up (a model's load is
    not throughput). `embedder`: anything with embed_documents (the resource or the Dagster-free client)."""
    embedder.embed_documents(list(texts[:8]))
    started = time.monotonic()
    for start in range(0, len(texts), batch_size):
        embedder.embed_documents(list(texts[start:start + batch_size]))
    return len(texts) / (time.monotonic() - started)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    return (f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}")


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1): the smallest value with at least `share` of values at or below it."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]
