"""`gfl search` and `gfl recommend`: the same query flags, validated against the areas in the source database."""

from __future__ import annotations

import functools
import textwrap
from typing import Any, Callable, Optional

import click

from gfl_dagster.cli.common import fail, print_json
from gfl_dagster.search.query import (
    DEFAULT_ALPHA,
    MAX_LIMIT,
    MODES,
    PARAMETER_KINDS,
    ROOM_TYPES,
    SORT_FIELDS,
    SearchError,
    SearchQuery,
    parameter_problem,
    parse_parameter,
)
from gfl_dagster.listings.source import LISTINGS


class QueryParameter(click.ParamType):
    """A search parameter, parsed and checked as the API does (`parse_parameter`): a bad value is a usage
    error naming the option (exit 2), before any database or model is touched."""

    def __init__(self, field: str):
        self.field = field
        self.name = {int: "integer", float: "float", bool: "boolean"}.get(PARAMETER_KINDS[field], "text")  # metavar

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> Any:
        if not isinstance(value, str):  # a default, already typed
            problem = parameter_problem(self.field, value)
        else:
            try:
                return parse_parameter(self.field, value)
            except SearchError as error:
                problem = str(error)
        if problem:
            self.fail(problem, param, ctx)  # raises a usage error: "Invalid value for '--limit' / '-n': ..."
        return value


def _query_option(*names: str, **settings: Any) -> Callable[..., Any]:
    """A query flag whose values go through QueryParameter (the field is the long name: --min-price -> min_price,
    or a name given among `names` without dashes: --not-borough not_areas)."""
    field = next((n for n in names if not n.startswith("-")), names[0].lstrip("-").replace("-", "_"))
    return click.option(*names, type=QueryParameter(field), **settings)


# A repeatable flag: one value is that filter, several are "any of them" (SearchQuery's set field).
_SEVERAL = {"borough": "areas", "neighbourhood": "neighbourhoods", "room_type": "room_types",
            "property_type": "property_types"}


def _flag(name: str, field: str, help: str) -> Callable[..., Any]:
    """An on/off flag for a bool filter: given, the filter is true; not given, no filter."""
    return click.option(name, field, is_flag=True, default=None, flag_value=True, help=help)

_QUERY_OPTIONS = (
    _query_option("--borough", "-b", multiple=True,
                  help="Area (neighbourhood_group), e.g. Brooklyn; case-insensitive. Repeat for any of several."),
    _query_option("--not-borough", "not_areas", multiple=True, help="Leave out this area (repeatable)."),
    _query_option("--neighbourhood", multiple=True, help="Neighbourhood, e.g. Williamsburg. Repeat for any of several."),
    _query_option("--not-neighbourhood", "not_neighbourhoods", multiple=True,
                  help="Leave out this neighbourhood (repeatable)."),
    _query_option("--room-type", multiple=True, help=f"One of: {', '.join(ROOM_TYPES)}. Repeat for any of several."),
    _query_option("--not-room-type", "not_room_types", multiple=True, help="Leave out this room type (repeatable)."),
    _query_option("--min-price", help="Price per night at least this."),
    _query_option("--max-price", help="Price per night at most this."),
    _query_option("--min-nights", help="Minimum stay (minimum_nights) at least this."),
    _query_option("--max-nights", help="Minimum stay (minimum_nights) at most this."),
    _query_option("--min-reviews", help="number_of_reviews at least this."),
    _query_option("--max-reviews", help="number_of_reviews at most this (0: new listings)."),
    _query_option("--min-reviews-per-month", help="reviews_per_month at least this."),
    _query_option("--min-availability", help="availability_365 (days a year) at least this."),
    # The detailed file's facts (a summary file has none: a filter on them finds nothing there).
    _query_option("--min-rating", help="review_scores_rating (0 to 5) at least this, e.g. 4.8."),
    _query_option("--min-guests", help="Guests the listing sleeps (accommodates) at least this."),
    _query_option("--min-bedrooms", help="Bedrooms at least this."),
    _query_option("--min-beds", help="Beds at least this."),
    _query_option("--min-baths", help="Baths at least this (1.5: a half bath counts half)."),
    _query_option("--amenity", "amenities", multiple=True,
                  help="A canonical amenity (listings/amenities.toml), e.g. washer, pool, free_parking, "
                       "\"hot tub\"; repeat for several: the listing has all of them."),
    _flag("--superhost", "superhost", "Only listings whose host is a superhost."),
    _flag("--instant-book", "instant_bookable", "Only listings that can be booked instantly."),
    _query_option("--property-type", multiple=True,
                  help="Property type as the data writes it, e.g. \"Entire condo\"; case-insensitive. Repeat for "
                       "any of several."),
    _query_option("--not-property-type", "not_property_types", multiple=True,
                  help="Leave out this property type (repeatable)."),
    _query_option("--sort", help=f"FIELD[:asc|desc] (default desc); FIELD one of {', '.join(SORT_FIELDS)}. "
                                 "With a text: the hits found, reordered."),
    _query_option("--mode", default="semantic", show_default=True, help=f"One of: {', '.join(MODES)}."),
    _query_option("--alpha", default=DEFAULT_ALPHA, show_default=True,
                  help="Hybrid mode: weight of the vector side (1 = pure vector, 0 = pure keyword)."),
    _query_option("--limit", "-n", default=10, show_default=True, help=f"Number of hits (1 to {MAX_LIMIT})."),
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
        flags["amenities"] = tuple(dict.fromkeys(flags.get("amenities") or ()))
        for single, several in _SEVERAL.items():
            values = tuple(dict.fromkeys(flags.pop(single) or ()))
            flags[single] = values[0] if len(values) == 1 else None
            flags[several] = values if len(values) > 1 else ()
        return command(query=SearchQuery(text=text or "", **flags), as_json=as_json, literal=literal, **extra)

    for option in reversed(_QUERY_OPTIONS):
        with_query = option(with_query)
    return with_query


def _search_context(project):
    from gfl_dagster.search.interpret import load_search_context

    return load_search_context(project.engine())


def _echo_understanding(interpretation, message: str, ranking: str = "") -> None:
    for line in (interpretation.summary(), message, ranking and f"ranked: {ranking}"):
        if line:
            click.secho(line, fg="cyan", err=True)


@click.command()
@click.argument("text", required=False, type=QueryParameter("text"))
@click.option("--ads", is_flag=True, help="Show beside each listing found its ad for your audience: --audience, "
                                         "or the one your words name (\"for my family\"), or --user's history; none, no ads.")
@click.option("--audience", help="Whose ads to show, a slug of ads/audiences.toml (e.g. family_with_kids); "
                                 "implies --ads.")
@click.option("--user", "user_id", default="", help="With --ads: when no audience is given or named, read it from "
                                                     "this user's feedback history (nothing is recorded).")
@query_options
def search(query: SearchQuery, as_json: bool, literal: bool, ads: bool = False, audience: Optional[str] = None,
           user_id: str = "") -> None:
    """Search listings in plain language, by filters, or both.

    Places, prices, reviews, room types, stays and rankings in the sentence become
    exact filters ("understood: ..." says how it was read; --literal turns that off);
    so do ratings, guests, bedrooms, amenities, superhost, instant book and the
    property type where the data has them (a summary file has not: the answer says
    so and does not filter on them). Flags given explicitly win over the sentence.
    A search of filters alone is ranked most reviewed first unless --sort says
    otherwise ("ranked: ..." says which).

    \b
    gfl search "listings in Brooklyn under $100 with good reviews"
    gfl search "top 5 most reviewed listings in Brooklyn"
    gfl search "apartment with a great view" --limit 5
    gfl search "quiet" --borough Brooklyn --max-price 100 --min-reviews 10
    gfl search "loft" --mode hybrid --alpha 0.5
    gfl search "2 bedroom place with a washer for 4 guests rated 4.8+"
    gfl search "quiet" --min-rating 4.8 --min-guests 4 --amenity washer --amenity wifi --superhost
    """
    from gfl_dagster.cli.tables import hits_table
    from gfl_dagster.cli.project import ProjectClients
    from gfl_dagster.search.retrieval import SearchError, understood_search

    project = ProjectClients()
    with project.vector_store.session(LISTINGS) as store:
        try:
            found = understood_search(query, project.embedder, store, _search_context(project), literal,
                                      project.model_client)
        except SearchError as error:
            fail(str(error))
        viewer = None
        if ads or audience:
            from gfl_dagster.ads.for_hits import ads_for_hits
            from gfl_dagster.ads.viewer import AudienceError, viewer_audience

            try:
                viewer = viewer_audience(project.engine(), audience, query.text, user_id.strip())
            except AudienceError as error:
                fail(str(error))
            shown = ads_for_hits(project.engine(), found.hits, viewer.slug if viewer else None)
            for hit in found.hits:
                hit["ad"] = shown[hit["id"]]
    if as_json:
        print_json({"understood": found.interpretation.as_json(), "message": found.message,
                    "ranking": found.ranking, "audience": viewer.as_json() if viewer else None, "hits": found.hits})
        return
    _echo_understanding(found.interpretation, found.message, found.ranking)
    if ads or audience:
        click.secho(f"ads for: {viewer.name} ({viewer.reason})" if viewer else
                    "no ads: no audience given (--audience), named in the sentence or in --user's history",
                    fg="cyan", err=True)
    sort = found.interpretation.query.sort_order()
    click.echo(hits_table(found.hits, sort_field=sort[0] if sort else None))
    for hit in found.hits:
        if hit.get("ad"):
            ad = hit["ad"]
            click.echo(f"ad {ad['id']} for {ad['audience']} (listing {hit['id']}, {ad['written_by']}): {ad['text']}")


@click.command()
@click.argument("text", required=False, type=QueryParameter("text"))
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
    from gfl_dagster.cli.tables import hits_table
    from gfl_dagster.cli.project import ProjectClients
    from gfl_dagster.search.retrieval import SearchError, recommend as recommend_listings

    if user_id:
        return _recommended_for(user_id, as_json)

    project = ProjectClients()
    with project.vector_store.session(LISTINGS) as store:
        try:
            result = recommend_listings(query, project.embedder, store, project.model_client,
                                        context=_search_context(project), literal=literal)
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
    from gfl_dagster.cli.project import ProjectClients
    from gfl_dagster.recommendations.for_you import recommended_for

    found = recommended_for(ProjectClients().engine(), user_id)
    if as_json:
        print_json(found)
        return
    click.echo(textwrap.fill(found["blurb"], 100))
    if found["cold_start"]:
        click.echo(f"\n(cold start: {user_id} has no feedback events yet) listings: "
                   + (", ".join(map(str, found["listing_ids"])) or "none"))
    else:
        click.echo(f"\n({found['written_by']}, {found['generated_at']}) listings: "
                   + ", ".join(map(str, found["listing_ids"])))
