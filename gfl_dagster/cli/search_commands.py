"""`gfl search` and `gfl recommend`: the same query flags, validated against the areas in the source database."""

from __future__ import annotations

import functools
import textwrap
from typing import Any, Callable, Optional

import click

from gfl_dagster.cli.common import fail, print_json
from gfl_dagster.search.query import DEFAULT_ALPHA, MAX_LIMIT, MODES, ROOM_TYPES, SORT_FIELDS, SearchQuery

_QUERY_OPTIONS = (
    click.option("--borough", "-b", help="Area (neighbourhood_group), e.g. Brooklyn; case-insensitive."),
    click.option("--neighbourhood", help="Neighbourhood, e.g. Williamsburg."),
    click.option("--room-type", help=f"One of: {', '.join(ROOM_TYPES)}."),
    click.option("--min-price", type=float, help="Price per night at least this."),
    click.option("--max-price", type=float, help="Price per night at most this."),
    click.option("--min-nights", type=int, help="Minimum stay (minimum_nights) at least this."),
    click.option("--max-nights", type=int, help="Minimum stay (minimum_nights) at most this."),
    click.option("--min-reviews", type=int, help="number_of_reviews at least this."),
    click.option("--max-reviews", type=int, help="number_of_reviews at most this (0: new listings)."),
    click.option("--min-reviews-per-month", type=float, help="reviews_per_month at least this."),
    click.option("--min-availability", type=int, help="availability_365 (days a year) at least this."),
    click.option("--sort", help=f"FIELD[:asc|desc] (default desc); FIELD one of {', '.join(SORT_FIELDS)}. "
                                "With a text: the hits found, reordered."),
    click.option("--mode", default="semantic", show_default=True, help=f"One of: {', '.join(MODES)}."),
    click.option("--alpha", type=float, default=DEFAULT_ALPHA, show_default=True,
                 help="Hybrid mode: weight of the vector side (1 = pure vector, 0 = pure keyword)."),
    click.option("--limit", "-n", type=int, default=10, show_default=True, help=f"Number of hits (1 to {MAX_LIMIT})."),
    click.option("--json", "as_json", is_flag=True, help="Print JSON: how the text was understood, and the hits "
                                                          "keyed by the CSV's column names."),
    click.option("--literal", is_flag=True, help="Take the text as it is: no places, prices, reviews or rankings "
                                                 "read from it."),
)


def query_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The query flags of both commands; the command receives a SearchQuery as `query`."""
    @functools.wraps(command)
    def with_query(text: Optional[str], as_json: bool, literal: bool, **flags: Any) -> Any:
        extra = {name: flags.pop(name) for name in ("user_id", "ads", "audience") if name in flags}
        return command(query=SearchQuery(text=text or "", **flags), as_json=as_json, literal=literal, **extra)

    for option in reversed(_QUERY_OPTIONS):
        with_query = option(with_query)
    return with_query


def _search_context(resources):
    from gfl_dagster.search.interpret import load_search_context

    return load_search_context(resources.database.engine())


def _echo_understanding(interpretation, message: str) -> None:
    for line in (interpretation.summary(), message):
        if line:
            click.secho(line, fg="cyan", err=True)


@click.command()
@click.argument("text", required=False)
@click.option("--ads", is_flag=True, help="Show the ads of the listings found (one variant per audience).")
@click.option("--audience", help="With --ads: only this audience's ads (a slug of ads/audiences.toml).")
@query_options
def search(query: SearchQuery, as_json: bool, literal: bool, ads: bool = False, audience: Optional[str] = None) -> None:
    """Search listings in plain language, by filters, or both.

    Places, prices, reviews, room types, stays and rankings in the sentence become
    exact filters ("understood: ..." says how it was read; --literal turns that off);
    flags given explicitly win over the sentence.

    \b
    gfl search "listings in Brooklyn under $100 with good reviews"
    gfl search "top 5 most reviewed listings in Brooklyn"
    gfl search "apartment with a great view" --limit 5
    gfl search "quiet" --borough Brooklyn --max-price 100 --min-reviews 10
    gfl search "loft" --mode hybrid --alpha 0.5
    """
    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster.cli.tables import hits_table
    from gfl_dagster.search.retrieval import SearchError, understood_search

    with project_resources() as resources, resources.vector_store.session() as store:
        try:
            found = understood_search(query, resources.embedder, store, _search_context(resources), literal,
                                      resources.model_client)
        except SearchError as error:
            fail(str(error))
        if ads or audience:
            from gfl_dagster.ads.for_hits import ads_for_hits

            shown = ads_for_hits(resources.database.engine(), found.hits, audience)
            for hit in found.hits:
                hit["ads"] = shown[hit["id"]]
    if as_json:
        print_json({"understood": found.interpretation.as_json(), "message": found.message, "hits": found.hits})
        return
    _echo_understanding(found.interpretation, found.message)
    sort = found.interpretation.query.sort_order()
    click.echo(hits_table(found.hits, sort_field=sort[0] if sort else None))
    for hit in found.hits if (ads or audience) else ():
        for ad in hit["ads"]:
            click.echo(f"ad {ad['id']} for {ad['audience']} (listing {hit['id']}, {ad['written_by']}): {ad['text']}")


@click.command()
@click.argument("text", required=False)
@click.option("--user", "user_id", help="Show what is recommended for this user (from their feedback events; "
                                        "a cold start says so) instead of answering a request.")
@query_options
def recommend(query: SearchQuery, as_json: bool, literal: bool, user_id: Optional[str] = None) -> None:
    """Recommend listings for a request, citing them by id, e.g. gfl recommend "a quiet place for a family trip".

    Retrieves candidates as `gfl search` does (the same understanding, the same
    flags), so every recommended listing satisfies what was asked; then the template
    (offline) or the chat model (with OPENAI_API_KEY or OPENAI_BASE_URL) writes a short
    recommendation; a model answer citing unknown ids or wrong facts is retried,
    then replaced by the template.
    """
    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster.cli.tables import hits_table
    from gfl_dagster.search.retrieval import SearchError, recommend as recommend_listings

    if user_id:
        return _recommended_for(user_id, as_json)

    with project_resources() as resources, resources.vector_store.session() as store:
        try:
            result = recommend_listings(query, resources.embedder, store, resources.model_client,
                                        context=_search_context(resources), literal=literal)
        except SearchError as error:
            fail(str(error))
    by_id = {hit["id"]: hit for hit in result.hits}
    cited = [by_id[listing_id] for listing_id in result.cited_ids if listing_id in by_id]
    if as_json:
        print_json({"recommendation": result.text, "model": result.model, "cited_ids": result.cited_ids,
                    "cited": cited, "problems": result.problems, "message": result.message,
                    "understood": result.interpretation.as_json() if result.interpretation else None,
                    "hits": result.hits})
        return
    if result.interpretation:
        _echo_understanding(result.interpretation, "")
    click.echo(textwrap.fill(result.text, 100))
    click.echo(f"\n({result.model})\n\ncited listings:")
    click.echo(hits_table(cited))


def _recommended_for(user_id: str, as_json: bool) -> None:
    from gfl_dagster.cli.runs import project_resources
    from gfl_dagster.recommendations.for_you import recommended_for

    with project_resources() as resources:
        found = recommended_for(resources.database.engine(), user_id)
    if as_json:
        print_json(found)
        return
    click.echo(textwrap.fill(found["blurb"], 100))
    if found["cold_start"]:
        click.echo(f"\n(cold start: {user_id} has no feedback events yet) listings: "
                   + (", ".join(map(str, found["listing_ids"])) or "none"))
        for ad in found["best_ads"]:
            click.echo(f"  best ad for {ad['audience']} (listing {ad['listing_id']}): {ad['text']}")
    else:
        click.echo(f"\n({found['written_by']}, {found['generated_at']}) listings: "
                   + ", ".join(map(str, found["listing_ids"])))
