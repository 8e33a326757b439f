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
from gfl_dagster.listings.source import LISTINGS
from gfl_dagster.search.query import (
    BOOL_FILTERS,
    DEFAULT_LIMIT,
    EQUALITY_FILTERS,
    LIST_FILTERS,
    RANGE_FILTERS,
    SET_FILTERS,
    SearchQuery,
)
from gfl_dagster.search.understanding import SEARCH_QUERY_FIELDS, Places, Span, Understood
from gfl_dagster.search.understanding_facts import amenity_feature_of, property_types_named
from gfl_dagster.search.understanding_model import model_understand
from gfl_dagster.spec import SourceSpec

if TYPE_CHECKING:  # for annotations only: importing it imports Dagster, which `gfl search` must not pay for
    from gfl_dagster.resources.model_client import ModelClientResource

_FILTER_FIELDS = (*EQUALITY_FILTERS, *SET_FILTERS, *RANGE_FILTERS, *BOOL_FILTERS, *LIST_FILTERS)
UNSET = (None, "", ())
_SAME_DIMENSION = tuple(frozenset({single, *(name for name, (column, _) in SET_FILTERS.items() if column == col)})
                        for single, col in EQUALITY_FILTERS.items())
# What a sentence can ask that the data may not hold (the summary files have none of these).
FACT_NAMES = {"min_rating": "ratings", "min_guests": "guest counts (accommodates)", "min_bedrooms": "bedrooms",
              "min_beds": "beds", "min_baths": "baths", "amenities": "amenities", "superhost": "superhosts",
              "instant_bookable": "instant booking", "property_type": "property types"}
_FACT_COLUMNS = {name: {**EQUALITY_FILTERS, **BOOL_FILTERS, **LIST_FILTERS}.get(name) or RANGE_FILTERS[name][0]
                 for name in FACT_NAMES}
# The source table may keep a fact under another column than the store (amenity features are derived from
# the host's strings at sync): any of these holding a value means the data has the fact.
_SOURCE_COLUMNS = {"amenity_features": ("amenity_features", "amenities")}


@dataclass(frozen=True)
class SearchContext:
    """What understanding needs from the database: its places, its price bands, the rich facts it holds
    (FACT_NAMES: a sentence's fact is filtered only where the data has it) and its property types
    (None: not known, so not checked)."""

    places: Places
    price_bands: dict[str, tuple[float, float]] = field(default_factory=dict)
    facts: frozenset[str] = frozenset()
    property_types: Optional[tuple[str, ...]] = None

    @property
    def areas(self) -> list[str]:
        return list(self.places.areas)

    @property
    def neighbourhoods(self) -> list[str]:
        return list(self.places.neighbourhoods)


def load_search_context(engine: Engine, spec: SourceSpec = LISTINGS) -> SearchContext:
    """Places (areas as Postgres derives them), price quartiles per area, neighbourhood and overall, and the
    rich facts the data holds: those the store carries (`spec`) and some source row has a value for."""
    with engine.connect() as connection:
        pairs = connection.execute(queries.AREA_NEIGHBOURHOODS).all()
        bands = {row.place or "": (float(row.q1), float(row.q3))
                 for row in connection.execute(queries.PRICE_QUARTILES) if row.q1 is not None}
        facts, property_types = _facts_held(connection, spec)
    area_of: dict[str, str] = {}
    for row in pairs:  # most listings first: a neighbourhood on an area's edge belongs to its main area
        if row.neighbourhood:
            area_of.setdefault(row.neighbourhood, row.area)
    places = Places(areas=tuple(sorted({row.area for row in pairs})),
                    neighbourhoods=tuple(sorted(area_of)), area_of_neighbourhood=area_of)
    return SearchContext(places, bands, facts, property_types)


def _facts_held(connection: Any, spec: SourceSpec) -> tuple[frozenset[str], tuple[str, ...]]:
    """(the FACT_NAMES the data holds, its property types): a summary file's table has none of either."""
    carried = {name: column for name, column in _FACT_COLUMNS.items() if column in spec.field_names}
    wanted = sorted({source for column in carried.values() for source in _SOURCE_COLUMNS.get(column, (column,))})
    present = dict(connection.execute(queries.TABLE_COLUMNS, {"table": spec.table, "columns": wanted}).all())
    held = connection.execute(queries.columns_holding_values(spec.table, present)).mappings().one() if present else {}
    facts = frozenset(name for name, column in carried.items()
                      if any(held.get(source) for source in _SOURCE_COLUMNS.get(column, (column,))))
    property_types = tuple(row[0] for row in connection.execute(queries.property_types(spec.table))) \
        if "property_type" in facts else ()
    return facts, property_types


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
    understood = apply_facts(model_understand(query.text, context.places, context.price_bands, model), context)
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


def apply_facts(understood: Understood, context: SearchContext) -> Understood:
    """The sentence's rich facts as the search's filters, where the data holds them.

    A fact the data lacks (a summary file has no ratings, guests or amenities) is said, not filtered, so
    it cannot filter every listing away: "ratings are not in this data: not filtered"; its chip becomes a
    note. Amenities become the canonical features they are filtered on (understanding_vocabulary.toml);
    one without a feature stays in the search text only. A property type ("condo") becomes the data's
    property types it names ("Entire condo", "Private room in condo").
    """
    filters, notes, spans = dict(understood.filters), list(understood.notes), list(understood.spans)

    def unfiltered(name: str, say: str, value: Any = None, why: str = "not in this data") -> None:
        notes.append(say)
        spans[:] = [Span(s.start, s.end, s.text, "note", why)
                    if s.field == name and (value is None or s.value == value) else s for s in spans]

    for name in [name for name in filters if name not in SEARCH_QUERY_FIELDS or name in FACT_NAMES]:
        if name not in FACT_NAMES or name not in context.facts:
            unfiltered(name, f"{FACT_NAMES.get(name, name.replace('_', ' '))} "
                             f"{'is' if name == 'instant_bookable' else 'are'} not in this data: not filtered")
            del filters[name]
        elif name == "amenities":
            features = {amenity: amenity_feature_of(amenity) for amenity in filters[name]}
            for amenity in [amenity for amenity, feature in features.items() if feature is None]:
                unfiltered(name, f"{amenity.replace('_', ' ')}: no one amenity feature to filter on "
                                 "(kept in the search text)", amenity, "no amenity feature")
            filters[name] = list(dict.fromkeys(feature for feature in features.values() if feature))
            spans = [replace(s, value=features[s.value]) if s.field == name and features.get(s.value) else s
                     for s in spans]
            if not filters[name]:
                del filters[name]
        elif name == "property_type" and context.property_types is not None:
            named = property_types_named(filters[name], context.property_types)
            if named:  # else the word itself: nothing matches, and the answer says which filter emptied it
                filters["property_types"] = list(named)
                del filters[name]
                spans = [replace(s, field="property_types", value=list(named)) if s.field == name else s
                         for s in spans]
    return replace(understood, filters=filters, notes=notes, spans=tuple(spans))


@dataclass(frozen=True)
class Relaxation:
    dropped: str  # the constraint left out, as a person reads it
    matches: int  # how many listings match without it (at most `cap`)


def constraint_label(name: str, value: Any) -> str:
    if name in BOOL_FILTERS:
        return f"{'' if value else 'not '}{name.replace('_', ' ')}"
    if name in LIST_FILTERS:
        return f"{name} {' and '.join(value)}"
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
        unset = () if name in SET_FILTERS or name in LIST_FILTERS else None
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
