"""`gfl bench cli`: how long the commands people type take, wall clock, each run a new process.

Each command runs N times under `/usr/bin/time` on a throwaway project with a few listings synced, after one
untimed run (which starts the embedded Postgres and writes bytecode caches). The wall time is what a person
waits; the CPU time (user + sys) is the command's own work, which the machine's load does not stretch.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from gfl_dagster import settings
from gfl_dagster.cli.common import fail, print_json
from gfl_dagster_bench.common import machine, throwaway_project

TIME = "/usr/bin/time"
# Issue 13's targets (seconds, wall): the commands that must answer at once. recommend has none: it is timed
# beside search, whose retrieval it runs before writing.
TARGETS_S = {"help": 0.5, "show": 0.5, "search": 0.8}


def _gfl() -> str:
    return str(Path(sys.executable).parent / "gfl")


def commands(listing_id: int) -> dict[str, list[str]]:
    return {
        "help": ["--help"],
        "show": ["show", str(listing_id)],
        "search": ["search", "apartment with a view", "--limit", "5"],
        "recommend": ["recommend", "a quiet place for a family trip"],
    }


def timed_run(arguments: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one `gfl ARGUMENTS` process, as /usr/bin/time measures them."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        done = subprocess.run([TIME, "-f", "%e %U %S", "-o", report.name, _gfl(), *arguments],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"gfl {' '.join(arguments)} exited {done.returncode}: {done.stderr[-1000:]}")
        wall, user, system = (float(field) for field in report.read().split()[-3:])
    return wall, user + system


def summary(runs: list[tuple[float, float]], target: float | None) -> dict[str, Any]:
    walls = [wall for wall, _ in runs]
    return {
        "runs": len(runs), "median_s": statistics.median(walls), "max_s": max(walls),
        "median_cpu_s": statistics.median(cpu for _, cpu in runs), "target_s": target,
        "within_target": None if target is None else statistics.median(walls) <= target,
    }


def _synced_listing() -> int:
    """Loads and syncs a few listings in the current (throwaway) project; returns one that search finds."""
    for arguments in (["sync", "--limit", "30"], ["search", "apartment", "--limit", "1", "--json"]):
        done = subprocess.run([_gfl(), *arguments], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"gfl {' '.join(arguments)} exited {done.returncode}: {done.stderr[-1000:]}")
    hits = json.loads(done.stdout)["hits"]
    if not hits:
        raise RuntimeError("the synced listings gave no search hit")
    return hits[0]["id"]


def measure(runs: int) -> dict[str, Any]:
    listing_id = _synced_listing()
    load_before = os.getloadavg()[0]
    figures: dict[str, Any] = {}
    for name, arguments in commands(listing_id).items():
        timed_run(arguments)  # untimed: bytecode caches, the page cache
        figures[name] = summary([timed_run(arguments) for _ in range(runs)], TARGETS_S.get(name))
    return {"machine": machine(), "load_average_1m": [load_before, os.getloadavg()[0]],
            "embedder": settings.embedder_backend(), "vector_store": settings.vector_backend(),
            "commands": figures}


@click.command("cli")
@click.option("--runs", "-n", type=click.IntRange(min=1), default=5, show_default=True,
              help="Timed runs of each command.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_cli(runs: int, as_json: bool) -> None:
    """Wall and CPU time of `gfl --help`, `gfl show`, `gfl search` and `gfl recommend`, each run a new process
    under /usr/bin/time on a throwaway project (embedded Postgres, 30 listings synced); median and max of N."""
    if not shutil.which(TIME):
        fail(f"{TIME} is missing (Debian/Ubuntu: apt-get install time)")
    with throwaway_project("gfl-bench-cli-"):
        figures = measure(runs)
    if as_json:
        print_json(figures)
        return
    before, after = figures["load_average_1m"]
    click.echo(f"{machine()}; load average {before:.2f} before, {after:.2f} after; embedder {figures['embedder']}, "
               f"store {figures['vector_store']}; {runs} runs each")
    for name, row in figures["commands"].items():
        target = "" if row["target_s"] is None else \
            f"  target {row['target_s']:.1f}s: {'met' if row['within_target'] else 'MISSED'}"
        click.echo(f"  gfl {name:<10} wall median {row['median_s']:.2f}s max {row['max_s']:.2f}s   "
                   f"cpu median {row['median_cpu_s']:.2f}s{target}")
