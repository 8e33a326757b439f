"""The faults `gfl bench soak` injects while changes stream in, each at random moments.

- `worker`: kill -9 of a run worker in the middle of its step;
- `postgres`: the embedded Postgres stopped and started again;
- `store`: the vector store unavailable (its table locked) for the outage;
- `model`: the embeddings service answering 429 with Retry-After, and 500, for the outage (fault proxy);
- `daemon`: dagster-daemon killed (kill -9, with what it started) and started again;
- `up`: `gfl up` itself restarted (SIGTERM, which stops the embedded Postgres too, then started again): with
  it among the faults the soak runs under `gfl up` (UI, daemon, code server, listener, page) instead of the
  bare daemon, and `daemon` kills `gfl up` with -9. The restarted start must keep the source as it is.

A fault that cannot act (no run worker showed up) says so in its outcome; none raises.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import psutil
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from gfl_dagster.cli.processes import dagster_command, free_port, start_process, stop_process
from gfl_dagster.db import queries
from gfl_dagster_bench.fault_proxy import EMBEDDINGS, FaultProxy, error

WORKER_WAIT_S = 60.0  # how long the worker fault waits for a run worker to kill
STEP_STARTED_S = 4.0  # a worker this old has imported the code location and is in its step
STORE_RETRY_S = 60.0  # how long the store fault keeps trying to reach a restarting database


class Daemon:
    """dagster-daemon on the project's code location, as `gfl up` starts it; restartable from any thread.

    One long-lived thread starts and stops it: a daemon started from a fault's thread exited (SIGTERM
    or 0, measured) as soon as that thread ended.
    """

    module = "gfl_dagster.definitions"  # the code location `gfl up` runs

    def __init__(self, env: dict, log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.process = None
        self.lock = threading.Lock()
        self.exits: list[Optional[int]] = []  # exit codes of the daemons that ended before stop()
        self._requests: queue.Queue = queue.Queue()
        threading.Thread(target=self._own, daemon=True, name="soak-daemon-owner").start()

    def _own(self) -> None:
        while True:
            action, done = self._requests.get()
            try:
                action()
            finally:
                done.set()

    def _in_owner(self, action: Callable[[], None]) -> None:
        done = threading.Event()
        self._requests.put((action, done))
        done.wait()

    def command(self) -> list[str]:
        return [dagster_command("dagster-daemon"), "run", "-m", self.module]

    def start(self) -> None:
        def start() -> None:
            with self.lock:
                self.process = start_process(self.command(), self.log_path, self.env)
        self._in_owner(start)

    def kill(self) -> None:
        """kill -9 of the daemon and every process of its group (code server, run workers)."""
        with self.lock:
            if self.process.poll() is not None:
                self.exits.append(self.process.returncode)  # it had ended by itself
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()

    def stop(self) -> None:
        def stop() -> None:
            with self.lock:
                if self.process is not None:
                    if self.process.poll() is not None:
                        self.exits.append(self.process.returncode)
                    stop_process(self.process)
        self._in_owner(stop)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def run_workers(self) -> list[psutil.Process]:
        with self.lock:
            try:
                children = psutil.Process(self.process.pid).children(recursive=True)
            except psutil.Error:
                return []
        return [child for child in children if _is_run_worker(child)]


class GflUp(Daemon):
    """`gfl up` itself in place of the bare daemon, on free ports; its output goes to `log_path`."""

    def __init__(self, env: dict, log_path: Path, limit: int) -> None:
        super().__init__(env, log_path)
        self.limit = limit

    def command(self) -> list[str]:
        return [dagster_command("gfl"), "up", "--limit", str(self.limit), "--port", str(free_port()),
                "--web-port", str(free_port())]


KEPT = "kept as they are"  # what a start of `gfl up` on a table holding rows says (cli/common.py)
UP_START_S = 180.0  # how long the up fault waits for the restarted gfl up to decide about the source


def _is_run_worker(process: psutil.Process) -> bool:
    """The code server (`dagster api grpc`) runs each run in a multiprocessing child of its own."""
    try:
        return "spawn_main" in " ".join(process.cmdline()) and "api grpc" in " ".join(process.parent().cmdline())
    except (psutil.Error, AttributeError):  # gone meanwhile; or no parent left
        return False


@dataclass
class FaultContext:
    home: Path
    engine: Engine
    proxy: FaultProxy
    daemon: Daemon
    outage_s: float
    rng: random.Random


def kill_run_worker(context: FaultContext) -> str:
    deadline = time.monotonic() + WORKER_WAIT_S
    while time.monotonic() < deadline:
        busy = [w for w in context.daemon.run_workers() if time.time() - _created(w) >= STEP_STARTED_S]
        if busy:
            worker = context.rng.choice(busy)
            age = time.time() - _created(worker)
            worker.kill()
            return f"killed run worker pid {worker.pid} after {age:.1f}s"
        time.sleep(0.2)
    return f"no run worker ran {STEP_STARTED_S:g}s within {WORKER_WAIT_S:g}s: nothing killed"


def _created(process: psutil.Process) -> float:
    try:
        return process.create_time()
    except psutil.Error:
        return time.time()


def restart_postgres(context: FaultContext) -> str:
    from gfl_dagster.db.embedded_postgres import stop_embedded_postgres

    stopped = stop_embedded_postgres(context.home)
    down_s = context.rng.uniform(1, 5)
    time.sleep(down_s)
    ensure_postgres(context.home)
    return f"stopped ({'was running' if stopped else 'was not running'}), down {down_s:.1f}s, started"


def ensure_postgres(home: Path) -> None:
    """Start the embedded Postgres again (or join whichever process already did, e.g. a new run worker).

    pgserver remembers a server per process and folder: asked again, it would return it without
    checking that it still runs.
    """
    from gfl_dagster.db.embedded_postgres import _pgserver, start_embedded_postgres

    start_embedded_postgres(home)
    server = _pgserver().get_server(home / "pgdata", cleanup_mode=None)
    with server._lock:  # pgserver's own inter-process lock: another process may be starting it
        server.ensure_postgres_running()


def hold_store(context: FaultContext) -> str:
    """The store's table locked for the outage; if the database is down (a restart overlaps), once it is back."""
    started = time.monotonic()
    while True:
        try:
            with context.engine.begin() as connection:
                connection.execute(queries.SOAK_LOCK_STORE)
                waited = time.monotonic() - started
                time.sleep(context.outage_s)
            return f"listing_vectors locked for {context.outage_s:g}s (lock granted after {waited:.1f}s)"
        except OperationalError:
            if time.monotonic() - started > STORE_RETRY_S:
                raise
            time.sleep(1)


def model_outage(context: FaultContext) -> str:
    context.proxy.during(EMBEDDINGS, context.outage_s, error(429, "rate limited by the soak", retry_after="1"),
                         error(500, "server error injected by the soak"))
    time.sleep(context.outage_s)
    answered = [r.status for r in context.proxy.to(EMBEDDINGS) if r.at >= time.monotonic() - context.outage_s]
    return (f"embeddings answered 429/500 for {context.outage_s:g}s "
            f"({sum(s in (429, 500) for s in answered)} requests refused)")


def restart_daemon(context: FaultContext) -> str:
    workers = len(context.daemon.run_workers())
    context.daemon.kill()
    down_s = context.rng.uniform(1, 5)
    time.sleep(down_s)
    context.daemon.start()
    return f"daemon killed with {workers} run workers, down {down_s:.1f}s, started"


def restart_up(context: FaultContext) -> str:
    """SIGTERM to `gfl up` (it stops its children and the embedded Postgres), then `gfl up` again; what its
    start said about the source, read from its output."""
    up = context.daemon
    if not isinstance(up, GflUp):
        return "the soak runs the bare daemon: no gfl up to restart"
    began = time.monotonic()
    up.stop()
    stopped_s = time.monotonic() - began
    said_before = up.log_path.stat().st_size if up.log_path.exists() else 0
    up.start()
    deadline = time.monotonic() + UP_START_S
    while time.monotonic() < deadline:
        said = up.log_path.read_bytes()[said_before:].decode(errors="replace")
        decided = [line for line in said.splitlines() if "listings table" in line]
        if decided:
            verdict = "kept the source" if KEPT in decided[0] else "WROTE THE SOURCE"
            return f"gfl up stopped in {stopped_s:.1f}s, started again; {verdict}: {decided[0].strip()}"
        if not up.alive():
            return f"gfl up stopped in {stopped_s:.1f}s; the new one exited: {said[-300:]}"
        time.sleep(0.5)
    return f"gfl up stopped in {stopped_s:.1f}s, started again; no word about the source within {UP_START_S:g}s"


FAULTS: dict[str, Callable[[FaultContext], str]] = {
    "worker": kill_run_worker, "postgres": restart_postgres, "store": hold_store, "model": model_outage,
    "daemon": restart_daemon, "up": restart_up,
}


def schedule(kinds: list[str], repeats: int, duration_s: float, rng: random.Random) -> list[tuple[float, str]]:
    """(seconds from the start, kind) for each fault, at random moments of the stream's first 80%
    (so the last faults still meet changes), sorted."""
    return sorted((rng.uniform(0.05, 0.8) * duration_s, kind) for kind in kinds for _ in range(repeats))


@dataclass
class FaultRecord:
    kind: str
    at_s: float
    took_s: float = 0.0
    outcome: str = ""


@dataclass
class FaultRunner:
    """Runs each scheduled fault on a thread of its own at its moment: faults may overlap, as in life."""

    context: FaultContext
    echo: Callable[[str], None]
    records: list[FaultRecord] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, planned: list[tuple[float, str]]) -> None:
        started = time.monotonic()
        for at_s, kind in planned:
            record = FaultRecord(kind, round(at_s, 1))
            self.records.append(record)
            thread = threading.Thread(target=self._run, args=(record, started + at_s), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _run(self, record: FaultRecord, at: float) -> None:
        time.sleep(max(0.0, at - time.monotonic()))
        began = time.monotonic()
        try:
            record.outcome = FAULTS[record.kind](self.context)
        except Exception as failure:  # a fault that failed is reported, never raised
            record.outcome = f"fault failed: {type(failure).__name__}: {str(failure).splitlines()[0][:200]}"
        record.took_s = round(time.monotonic() - began, 1)
        self.echo(f"fault {record.kind} at {record.at_s}s: {record.outcome}")

    def join(self, timeout_s: Optional[float] = None) -> None:
        for thread in self.threads:
            thread.join(timeout_s)
