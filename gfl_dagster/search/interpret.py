"""From what was typed to what is searched: the sentence's constraints become exact filters.

`understand` (understanding.py) reads the sentence against the places the database
knows and its price bands; flags given explicitly win over what the sentence says.
When the constraints leave nothing, `relaxations` says which one emptied the result
and how many listings each relaxation would bring back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from sqlalchemy import Engine

from gfl_dagster.db import queries
from gfl_dagster.search.query import DEFAULT_LIMIT, EQUALITY_FILTERS, RANGE_FILTERS, SET_FILTERS, SearchQuery
from gfl_dagster.search.understanding import SEARCH_QUERY_FIELDS, Places, Understood
from gfl_dagster.search.understanding_model import model_understand

if TYPE_CHECKING:  # for annotations only: importing it imports Dagster, which `gfl search` must not pay for
    from gfl_dagster.resources.model_client import ModelClientResource

_FILTER_FIELDS = tuple(EQUALITY_FILTERS) + tuple(SET_FILTERS) + tuple(RANGE_FILTERS)
UNSET = (None, "", ())
_SAME_DIMENSION = tuple(frozenset({single, *(name for name, (column, _) in SET_FILTERS.items() if column == col)})
                        for single, col in EQUALITY_FILTERS.items())
# What a sentence can ask that the data may not hold (the summary files have none of these).
FACT_NAMES = {"min_rating": "ratings", "min_guests": "guest counts (accommodates)", "min_bedrooms": "bedrooms",
              "min_beds": "beds", "min_baths": "baths", "amenities": "amenities", "superhost": "superhosts",
              "instant_bookable": "instant booking", "property_type": "property types"}


@dataclass(frozen=True)
class SearchContext:
    """What understanding needs from the database: its places and its price bands."""

    places: Places
    price_bands: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def areas(self) -> list[str]:
        return list(self.places.areas)

    @property
    def neighbourhoods(self) -> list[str]:
        return list(self.places.neighbourhoods)


def load_search_context(engine: Engine) -> SearchContext:
    """Places (areas as Postgres derives them) and price quartiles per area, neighbourhood and overall."""
    with engine.connect() as connection:
        pairs = connection.execute(queries.AREA_NEIGHBOURHOODS).all()
        bands = {row.place or "": (float(row.q1), float(row.q3))
                 for row in connection.execute(queries.PRICE_QUARTILES) if row.q1 is not None}
    area_of: dict[str, str] = {}
    for row in pairs:  # most listings first: a neighbourhood on an area's edge belongs to its main area
        if row.neighbourhood:
            area_of.setdefault(row.neighbourhood, row.area)
    places = Places(areas=tuple(sorted({row.area for row in pairs})),
                    neighbourhoods=tuple(sorted(area_of)), area_of_neighbourhood=area_of)
    return SearchContext(places, bands)


@dataclass(frozen=True)
class Interpretation:
    query: SearchQuery  # what runs: the typed query with the sentence's constraints applied
    understood: Optional[Understood] = None  # None: taken literally

    @property
    def notes(self) -> list[str]:
        return list(self.understood.notes) if self.understood else []

    def summary(self) -> str:
        """"understood: area Brooklyn, price <= $100; searching for: quiet" (empty when taken literally)."""
        if not self.understood or not self.understood.notes:
            return ""
        return (f"understood: {', '.join(self.understood.notes)}; searching for: "
                + (repr(self.query.text) if self.query.text else "(the filters alone)"))

    def as_json(self) -> dict[str, Any]:
        understood = self.understood
        return {
            "literal": understood is None,
            "notes": self.notes,
            "filters": {name: getattr(self.query, name) for name in _FILTER_FIELDS
                        if getattr(self.query, name) not in UNSET},
            "sort": self.query.sort, "limit": self.query.limit, "text": self.query.text,
            "from_sentence": {} if understood is None else
            {**understood.filters, **({"sort": understood.sort} if understood.sort else {}),
             **({"limit": understood.limit} if understood.limit is not None else {})},
            "spans": [] if understood is None else
            [{"start": s.start, "end": s.end, "text": s.text, "field": s.field, "value": s.value}
             for s in understood.spans],
        }


def interpret(query: SearchQuery, context: SearchContext, literal: bool = False,
              model: Optional[ModelClientResource] = None) -> Interpretation:
    """The query with the sentence's filters, sort and limit; anything set explicitly is kept.

    With a chat model configured the model reads the sentence (understanding_model.py), checked,
    with the rules as the fallback; without one the rules read it.
    """
    if literal or not query.text.strip():
        return Interpretation(query)
    understood = _say_what_the_data_lacks(model_understand(query.text, context.places, context.price_bands, model))
    wanted = understood.search_query_fields()
    explicit = {f.name for f in fields(SearchQuery) if f.name in _FILTER_FIELDS + ("sort",)
                and getattr(query, f.name) not in UNSET}
    for group in _SAME_DIMENSION:  # a flag on a dimension (--borough) overrides all the sentence says of it
        if explicit & group:
            explicit |= group
    changes = {name: value for name, value in wanted.items() if name not in explicit}
    if query.limit != DEFAULT_LIMIT:  # a limit typed as a flag beats "top 5" in the sentence
        changes.pop("limit", None)
    if not changes.get("text", query.text) and query.mode != "semantic":
        changes["mode"] = "semantic"  # nothing left to match words against: the filters alone
    return Interpretation(replace(query, **changes), understood)


def _say_what_the_data_lacks(understood: Understood) -> Understood:
    """A fact the sentence asks for that the searched data has no column for is said, not silently dropped:
    "ratings are not in this data: not filtered"."""
    lacking = [name for name in understood.filters if name not in SEARCH_QUERY_FIELDS]
    if not lacking:
        return understood
    said = [f"{FACT_NAMES.get(name, name.replace('_', ' '))} {'is' if name == 'instant_bookable' else 'are'} "
            f"not in this data: not filtered" for name in lacking]
    return replace(understood, notes=[*understood.notes, *said])


@dataclass(frozen=True)
class Relaxation:
    dropped: str  # the constraint left out, as a person reads it
    matches: int  # how many listings match without it (at most `cap`)


def constraint_label(name: str, value: Any) -> str:
    if name in EQUALITY_FILTERS:
        return f"{name.replace('_', ' ')} {value}"
    if name in SET_FILTERS:
        column, op = SET_FILTERS[name]
        return f"{column.replace('_', ' ')} {'not ' if op == 'not in' else ''}{' or '.join(value)}"
    column, op = RANGE_FILTERS[name]
    money = "$" if column == "price" else ""
    return f"{column.replace('_', ' ')} {op} {money}{value:g}" if isinstance(value, (int, float)) else name


def relaxations(query: SearchQuery, count: Callable[[SearchQuery], int]) -> list[Relaxation]:
    """For a query that found nothing: each filter left out in turn, and how many listings that brings back.

    `count` runs a relaxed query and returns its number of hits (capped by its limit).
    """
    found = []
    for name in _FILTER_FIELDS:
        value = getattr(query, name)
        if value in UNSET:
            continue
        unset = () if name in SET_FILTERS else None
        found.append(Relaxation(constraint_label(name, value), count(replace(query, **{name: unset}))))
    return sorted((r for r in found if r.matches), key=lambda r: -r.matches)


def empty_message(query: SearchQuery, relaxed: Sequence[Relaxation]) -> str:
    constraints = [constraint_label(name, getattr(query, name)) for name in _FILTER_FIELDS
                   if getattr(query, name) not in UNSET]
    message = "no listing matches " + (", ".join(constraints) if constraints else "this search")
    if relaxed:
        message += "; " + "; ".join(f"without {r.dropped}: {r.matches}{'+' if r.matches >= query.limit else ''}"
                                    for r in relaxed[:3])
    return message
