"""`gfl bench`: measured figures, printed (and recorded in BENCHMARKS.md by hand)."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Optional

import click

from gfl_dagster.cli.common import print_json
from gfl_dagster_bench.cli_speed import bench_cli
from gfl_dagster_bench.common import embedder_texts_per_s, machine, throwaway_project
from gfl_dagster_bench.freshness import bench_freshness
from gfl_dagster_bench.loop import bench_loop
from gfl_dagster_bench.recommend import bench_recommend
from gfl_dagster_bench.scale import bench_scale
from gfl_dagster_bench.search import bench_search
from gfl_dagster_bench.soak import bench_soak
from gfl_dagster_bench.understanding import bench_understanding
from gfl_dagster_bench.up_sync import bench_up


EMBEDDER_SAMPLE = 4096


@click.group()
def bench() -> None:
    """Benchmarks: scripts that print measured figures (not tests)."""


@bench.command("sync")
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N rows of the CSV.")
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False), help="Listings CSV (default: bundled).")
@click.option("--dagster-storage", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True,
              help="Where Dagster keeps runs and events: sqlite files (the default instance) or Postgres "
                   "(a database of the same embedded server, as DAGSTER_PG_URL sets it in production).")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path),
              help="Build the project in this folder and keep it (for `gfl bench search --large-project`).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_sync(limit: Optional[int], csv_path: Optional[str], dagster_storage: str, keep: Optional[Path],
               as_json: bool) -> None:
    """Initial sync throughput (listings/s) next to the embedder's raw throughput, and peak memory.

    Runs on a throwaway embedded Postgres in a temporary folder (DATABASE_URL is
    ignored), with the configured describer and embedder, through Dagster as
    `gfl sync` runs it. The embedder alone is timed on up to 4,096 of the same
    texts, spread over the file.
    """
    with throwaway_project(dagster_on_postgres=dagster_storage == "postgres", keep=keep):
        figures = {**_measure_sync(limit, csv_path), "dagster_storage": dagster_storage}
    if as_json:
        print_json(figures)
        return
    click.echo(
        f"{figures['listings']} listings ({figures['csv']}) on {figures['machine']}\n"
        f"  load:            {figures['load_s']:.2f}s ({figures['load_rows_per_s']:.0f} rows/s)\n"
        f"  initial sync:    {figures['sync_s']:.2f}s = {figures['sync_listings_per_s']:.1f} listings/s "
        f"(describer {figures['describer']}, embedder {figures['embedder']}, store {figures['vector_store']})\n"
        f"  embedder alone:  {figures['embedder_texts_per_s']:.1f} texts/s on the same texts\n"
        f"  sync / embedder: {figures['sync_listings_per_s'] / figures['embedder_texts_per_s']:.2f}\n"
        f"  peak memory:     {figures['peak_rss_mb']:.0f} MB (this process; Postgres runs apart)"
    )


def _measure_sync(limit: Optional[int], csv_path: Optional[str]) -> dict:
    from gfl_dagster.cli.runs import project_instance, project_resources, run_load, SEARCHABLE, sync_all
    from gfl_dagster.db import queries
    from gfl_dagster.listings.embedding_text import embedding_text
    from gfl_dagster.listings.describe import describer_name
    from gfl_dagster.listings.partitions import register_areas

    instance = project_instance()
    started = time.monotonic()
    loaded = run_load(instance, csv_path, limit)
    load_s = time.monotonic() - started
    with project_resources() as resources:
        engine = resources.database.engine()
        with engine.connect() as connection:
            areas = [row.area for row in connection.execute(queries.LIST_AREAS)]
            rows = [dict(r) for area in areas
                    for r in connection.execute(queries.LISTINGS_IN_AREA, {"area": area}).mappings()]
        register_areas(instance, areas)
        started = time.monotonic()
        sync_all(instance, areas, lambda line: click.echo(line, err=True), SEARCHABLE)
        sync_s = time.monotonic() - started

        every = max(1, len(rows) // EMBEDDER_SAMPLE)
        texts = [embedding_text(row, None) for row in rows[::every][:EMBEDDER_SAMPLE]]
        embedder_per_s = embedder_texts_per_s(resources.embedder, texts)
        names = (describer_name(resources.model_client), resources.embedder.model_name,
                 resources.vector_store.backend)
    return {
        "csv": loaded.get("source_file"), "listings": len(rows), "machine": machine(),
        "load_s": load_s, "load_rows_per_s": loaded.get("rows_read", 0) / load_s,
        "sync_s": sync_s, "sync_listings_per_s": len(rows) / sync_s,
        "embedder_texts_per_s": embedder_per_s, "embedder_texts_timed": len(texts),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "describer": names[0], "embedder": names[1], "vector_store": names[2],
    }


bench.add_command(bench_search)
bench.add_command(bench_cli)
bench.add_command(bench_freshness)
bench.add_command(bench_loop)
bench.add_command(bench_recommend)
bench.add_command(bench_scale)
bench.add_command(bench_soak)
bench.add_command(bench_up)
bench.add_command(bench_understanding)


@bench.command("grounding")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--details", is_flag=True, help="Also list the claims missed and the faithful texts rejected.")
@click.option("--real-text/--no-real-text", default=True, show_default=True,
              help="Also measure the check on the hosts' own sentences in the Singapore and Boston detailed files "
                   "(needs GFL_SHARED_DATA; about a minute): recall on injected claims, false rejection and false "
                   "acceptance on the hand labels, dev and test apart.")
def bench_grounding(as_json: bool, details: bool, real_text: bool) -> None:
    """The description check on the hand-labelled set of generated texts: recall on invented claims,
    false rejections of faithful texts, debris caught, check latency (no database, no model); and on real
    host text nobody here wrote (the frozen sets of gfl_dagster_bench/eval/listings/real_text.py)."""
    import os
    from pathlib import Path

    from gfl_dagster_bench.eval.listings.grounding import LABELLED, evaluate, known_places_from_csv, load_entries
    from gfl_dagster_bench.eval.listings import real_text as real
    from gfl_dagster import settings

    result = evaluate(load_entries(LABELLED), known_places_from_csv(settings.default_csv_path()))
    listed = {key: result.pop(key) for key in ("missed", "false_rejections")}
    result["machine"] = machine()
    shared = os.environ.get("GFL_SHARED_DATA")
    if real_text and shared:
        on_real = real.evaluate(Path(shared), progress=lambda message: click.echo(message, err=True))
        for name, split in on_real.items():  # each with its split: only dev's may be read for tuning
            listed.setdefault("real_text_wrong", []).extend({"split": name, **wrong}
                                                            for wrong in split["labels"].pop("wrong"))
            listed.setdefault("real_text_missed", []).extend({"split": name, **missed}
                                                             for missed in split["recall"].pop("missed"))
        result["real_text"] = on_real
    elif real_text:
        result["real_text"] = "not measured: set GFL_SHARED_DATA to the folder of the shared Inside Airbnb files"
    if as_json:
        print_json({**result, **(listed if details else {})})
        return
    click.echo(
        f"{result['texts']} labelled texts ({LABELLED.name}) on {result['machine']}\n"
        f"  invented claims caught: {result['caught']}/{result['invented_claims']} = recall {result['recall']:.3f}\n"
        f"  faithful texts rejected: {result['falsely_rejected']}/{result['faithful_texts']} = "
        f"{result['false_rejection_rate']:.3f}\n"
        f"  debris caught: {result['debris_caught']}/{result['debris_texts']}\n"
        f"  check latency p95: {result['p95_latency_ms']:.2f} ms ({result['p95_latency_ms_600_chars']:.2f} ms "
        "for texts up to 600 characters)")
    on_real = result.get("real_text")
    if isinstance(on_real, str):
        click.echo(f"real host text: {on_real}")
    elif on_real:
        click.echo("real host text (Singapore 2023-09 and Boston 2024-06 detailed files; frozen sets; "
                   "the test split is the headline, dev was tuned on):")
        for split, figures in on_real.items():
            recall, labels = figures["recall"], figures["labels"]
            click.echo(
                f"  {split}: injected claims caught {recall['caught']}/{recall['mutations']} = recall "
                f"{recall['recall']:.3f}; hand-labelled sentences: false rejection {labels['supported_rejected']}/"
                f"{labels['supported']} supported ({labels['false_rejection']:.3f} weighted to the pool), false "
                f"acceptance {labels['unsupported_passed']}/{labels['unsupported']} unsupported "
                f"({labels['false_acceptance']:.3f}); pool sentences rejected {figures['pool_rejected']}/"
                f"{figures['pool']}")
    if details:
        print_json(listed)