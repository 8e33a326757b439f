"""`gfl feedback`: record what people did (for scripts and tests; the search page records its own)."""

from __future__ import annotations

import json
from typing import Optional

import click

from gfl_dagster.cli.common import fail


@click.command()
@click.argument("kind", required=False, type=click.Choice(
    ["search", "impression", "view", "click", "save", "book"], case_sensitive=False))
@click.option("--user", "user_id", help="Who did it (any stable id).")
@click.option("--listing", "listing_id", type=int, help="The listing it was about (all kinds but search).")
@click.option("--ad", "ad_id", type=int, help="The ad that was shown or clicked, if any.")
@click.option("--query", help="The search text (search events).")
@click.option("--at", "occurred_at", help="When it happened, ISO 8601 (default: now; never in the future).")
@click.option("--file", "path", type=click.File("r"), help="Record every event of a JSON Lines file instead "
              "(fields: kind, user_id, listing_id, ad_id, query, occurred_at, impression_id, propensity); all or none "
              "are stored. The operator is a trusted writer: no impression id is asked for.")
def feedback(kind: Optional[str], user_id: Optional[str], listing_id: Optional[int], ad_id: Optional[int],
             query: Optional[str], occurred_at: Optional[str], path) -> None:
    """Record a feedback event, e.g. gfl feedback click --user u1 --listing 2595.

    Events are validated (known kind and listing, a user id, no future time) and
    appended; an invalid one is refused with the reason and nothing is stored.
    """
    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster.feedback.events import EventError, validate_event
    from gfl_dagster.feedback.record import record_events

    if path is not None:
        if kind is not None:
            fail("give either KIND and its options or --file, not both")
        raws = []
        for number, line in enumerate(path, start=1):
            if line.strip():
                try:
                    raws.append((number, json.loads(line)))
                except json.JSONDecodeError as error:
                    fail(f"line {number}: not JSON ({error.msg})")
    elif kind is None:
        fail("give the event's KIND (search, impression, view, click, save, book) or --file")
    else:
        raws = [(None, {"kind": kind, "user_id": user_id, "listing_id": listing_id, "ad_id": ad_id,
                        "query": query, "occurred_at": occurred_at})]
    events = []
    for number, raw in raws:
        try:
            events.append(validate_event(raw))
        except EventError as error:
            fail(f"line {number}: {error}" if number else str(error))
    with project_resources() as resources:
        try:
            stored = record_events(resources.database.engine(), events)
        except EventError as error:
            fail(str(error))
    click.echo(f"recorded {stored} event{'s' if stored != 1 else ''}")
