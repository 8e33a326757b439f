"""The embedded default: a real PostgreSQL 16 (with pgvector) from the pgserver wheel.

It runs from a project-local folder like any local database service: the first
process that needs it starts it, every other process (CLI, webserver, daemon, run
workers, psql) joins it, and it keeps running until `gfl db stop` (or the end of
`gfl up`) stops it.
"""

from __future__ import annotations

import os
import subprocess
import threading
import warnings
from pathlib import Path


def _pgserver():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def _prepare(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    # pgserver keeps its inter-process lock in the user runtime dir; give it one
    # inside the project when the system has none.
    runtime = home / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    runtime.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    return home / "pgdata"


_STARTING = threading.Lock()


def start_embedded_postgres(home: Path) -> str:
    """Start (or join) the embedded server under `home`; return its SQLAlchemy URL."""
    # pgserver's lock is a file lock, which threads of one process share: without this,
    # two sensors evaluated in threads both run initdb on a fresh folder.
    with _STARTING:
        pgdata = _prepare(home)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = _pgserver().get_server(pgdata, cleanup_mode=None)
        return server.get_uri().replace("postgresql://", "postgresql+psycopg2://", 1)


def embedded_postgres_url(home: Path) -> str | None:
    """The running server's SQLAlchemy URL, read from its pid file; None when it is not running. Starts nothing."""
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(home / "pgdata")
    return None if info is None else info.get_uri().replace("postgresql://", "postgresql+psycopg2://", 1)


def stop_embedded_postgres(home: Path) -> bool:
    """Stop the embedded server if it runs; True if it was running."""
    pgdata = home / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    _prepare(home)
    from pgserver._commands import pg_ctl

    # As root, pgserver runs the server as its own 'pgserver' system user.
    user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError:
        return False
    return True
