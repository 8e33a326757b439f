"""Progress of long work: a live bar on a terminal, plain lines with the same figures in logs; `gfl status` says a
load is going on, from another process."""

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import time

from click.testing import CliRunner

from gfl_dagster.cli.main import cli
from gfl_dagster.cli.operations import loads_in_progress
from gfl_dagster.cli.progress import PendingWork, Progress, busiest
from gfl_dagster.db import queries
from gfl_dagster.listings.load import load_listings_csv, loading_name
from gfl_dagster_tests.conftest import HEADER_18, shared_csv, write_csv


def test_plain_lines_carry_the_share_the_rate_the_time_left_and_the_area():
    log = io.StringIO()  # not a terminal: no bar, no carriage returns
    work = PendingWork()
    with Progress("syncing", "listings", stream=log, plain_every_s=0) as progress:
        for pending in (200, 150, 100, 120, 40):  # 20 new changes arrive meanwhile
            progress.update(*work.seen(pending), busiest({"Manhattan": pending, "Bronx": 3, "Queens": 1}))
            time.sleep(0.05)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 5
    assert re.fullmatch(r"syncing:  82% \(180/220 listings\), +[0-9.]+ listings/s, 00:00 elapsed, 00:00 left, "
                        r"Manhattan 40 left, Bronx 3 left, \+1 areas", lines[-1]), lines[-1]
    assert "(100/220 listings)" in lines[3]  # the total grew, what was done stayed done
    assert "? listings/s" in lines[0] and "? left" in lines[0]


def test_a_terminal_gets_a_live_bar():
    script = ("import time; from gfl_dagster.cli.progress import Progress\n"
              "with Progress('loading', 'rows') as p:\n"
              "    for n in range(0, 101, 20):\n"
              "        p.update(n, 100, 'Brooklyn'); time.sleep(0.3)\n")
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal 120 columns wide
    done = subprocess.run([sys.executable, "-c", script], stdin=follower, stdout=follower, stderr=follower,
                          timeout=60)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert done.returncode == 0
    screen = shown.decode()
    assert "\r" in screen and "loading: 100%|" in screen and "100/100 rows" in screen and "Brooklyn" in screen


def test_status_says_a_load_is_going_on(engine):
    """While another process loads, `gfl status` names the load and its rows, not "no listings yet"."""
    with engine.connect() as loader:  # a load's session as listings/load.py names it, between two batches
        loader.exec_driver_sql(queries.NAME_LOADING_SESSION, (loading_name(4000, 48895, "AB_NYC_2019.csv"),))
        said = CliRunner().invoke(cli, ["status"]).output
        loader.exec_driver_sql(queries.NAME_LOADING_SESSION, ("",))
    assert "loading: 4000/48895 rows of AB_NYC_2019.csv" in said and "no listings yet" not in said, said


def test_a_real_load_names_its_session_while_it_lasts_and_not_after(engine):
    big = shared_csv("insideairbnb_barcelona_2021-10.csv")  # 17,000 rows: nine batches
    seen: list[str] = []
    finished = threading.Event()

    def watch() -> None:
        while not finished.is_set():
            seen.extend(loads_in_progress(engine))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        load_listings_csv(engine, big)
    finally:
        finished.set()
        watcher.join()
    found = [re.fullmatch(r"(\d+)/(\d+) rows of (.+)", line) for line in seen]
    assert seen and all(found), seen
    # Postgres keeps 63 bytes of a session's name: a long file name is cut short, never the counts.
    assert all(big.name.startswith(match[3]) and int(match[2]) == 16055 for match in found)
    assert max(int(match[1]) for match in found) > 0
    assert loads_in_progress(engine) == []  # over: the pooled session does not keep the name


def test_load_shows_its_progress_and_summary(engine, tmp_path):
    path = write_csv(tmp_path / "two.csv", HEADER_18,
                     "9200001,Flat,1,H,Queens,Astoria,40.7,-73.9,Private room,60,1,0,,,1,0,0,",
                     "9200002,Flat two,1,H,Queens,Astoria,40.7,-73.9,Private room,70,1,0,,,1,0,0,")
    loaded = CliRunner().invoke(cli, ["load", str(path)])
    assert loaded.exit_code == 0, loaded.output
    assert "loading: 100% (2/2 rows)" in loaded.output and "2 inserted" in loaded.output
