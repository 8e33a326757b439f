"""Helpers shared by the `gfl` commands."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any, Optional

import click


class DeferredGroup(click.Group):
    """A command group imported when it is used, not when `gfl` starts (`gfl --help` lists it by its `help`):
    for a group whose modules cost more to import than the commands that must answer at once take in all.
    `target` is "module:attribute"."""

    def __init__(self, name: str, target: str, help: str):
        super().__init__(name, help=help)
        self.target = target

    def loaded(self) -> click.Group:
        module, attribute = self.target.split(":")
        return getattr(importlib.import_module(module), attribute)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self.loaded().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> Optional[click.Command]:
        return self.loaded().get_command(ctx, name)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return float(value) if hasattr(value, "as_tuple") else str(value)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=_json_default, ensure_ascii=False))


def counted(count: int, word: str) -> str:
    """'1 search', '12 searches', '3 views'."""
    return f"{count} {word}" if count == 1 else f"{count} {word}{'es' if word.endswith(('s', 'sh', 'ch')) else 's'}"


def fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def known_areas(engine) -> list[str]:
    from gfl_dagster.db import queries

    with engine.connect() as connection:
        return [row.area for row in connection.execute(queries.LIST_AREAS)]


def load_csv(instance, path: Optional[str], limit: Optional[int], echo=click.echo) -> dict[str, Any]:
    """Load a CSV into `listings` (None: the default file), its progress shown as it goes; prints the summary.
    A file that is not a listings CSV is a clear error (exit 2), before any row is written."""
    from gfl_dagster.cli.progress import Progress
    from gfl_dagster.cli.runs import run_load
    from gfl_dagster.listings.csv_rows import CsvFormatError

    try:
        with Progress("loading", "rows") as progress:
            metadata = run_load(instance, path, limit, lambda done, total: progress.update(done, total))
    except CsvFormatError as error:
        fail(str(error))
    echo(load_summary(metadata))
    return metadata


def load_reviews(instance, path: str, limit: Optional[int], echo=click.echo) -> dict[str, Any]:
    """Load a reviews file into `reviews`, its progress shown as it goes; prints the summary."""
    from gfl_dagster.cli.progress import Progress
    from gfl_dagster.cli.runs import run_review_load
    from gfl_dagster.listings.csv_rows import CsvFormatError

    try:
        with Progress("loading", "reviews") as progress:
            metadata = run_review_load(instance, path, limit, lambda done, total: progress.update(done, total))
    except CsvFormatError as error:
        fail(str(error))
    echo(load_summary(metadata) + f"; {metadata.get('stays_recorded')} stays recorded")
    return metadata


def ensure_loaded(instance, resources, limit: Optional[int], echo=click.echo, load: Optional[str] = None) -> list[str]:
    """The source belongs to its owner: a CSV is written into `listings` only when asked (`load`: a path), or on
    the embedded default's first start (an empty table that never held a row). Says which, registers the areas
    as partitions, returns them."""
    from gfl_dagster import settings
    from gfl_dagster.db import queries
    from gfl_dagster.listings.partitions import register_areas

    engine = resources.database.engine()
    with engine.connect() as connection:
        rows = sum(row.listings for row in connection.execute(queries.LIST_AREAS))
        emptied = not rows and connection.execute(queries.ANY_TOMBSTONE).scalar_one()
    first = f" (first {limit} rows)" if limit else ""
    if load:
        echo(f"loading {load}{first} into the listings table, as asked (--load)")
        load_csv(instance, load, limit, echo)
    elif rows:
        echo(f"the listings table holds {rows} rows: kept as they are (`gfl load PATH` loads a file into it)")
    elif settings.is_set(settings.DATABASE_URL):
        echo("the listings table of DATABASE_URL is empty: nothing is loaded into it unless asked "
             "(`gfl load PATH`, or --load PATH); rows your application writes are synced as they come")
    elif emptied:
        echo("the listings table is empty, its rows deleted: nothing reloaded (`gfl load PATH` loads a file)")
    else:
        echo(f"first start: the listings table is empty, loading {settings.default_csv_path()}{first}")
        load_csv(instance, None, limit, echo)
    areas = known_areas(engine)
    register_areas(instance, areas)
    return areas


def load_summary(metadata: dict[str, Any]) -> str:
    return (
        f"loaded {metadata.get('source_file')} ({metadata.get('file_kind', 'summary')} file): "
        f"{metadata.get('rows_read')} rows read, "
        f"{metadata.get('inserted')} inserted, {metadata.get('updated')} updated, "
        f"{metadata.get('unchanged')} unchanged, {metadata.get('rejected')} rejected "
        f"({metadata.get('duration_s')}s)"
    )
