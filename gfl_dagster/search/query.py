"""What a search asks for, and the checks that turn a bad request into a clear message.

Pure: no database, no model. The stores (pgvector, Weaviate) build their queries
from a `SearchQuery` that `normalized_query` has accepted.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, fields, replace
from typing import Iterable, Optional, Sequence

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
}
EQUALITY_FILTERS = {"borough": "area", "neighbourhood": "neighbourhood", "room_type": "room_type"}


class SearchError(ValueError):
    """The query cannot be run as given; the message says what to change."""


@dataclass(frozen=True)
class SearchQuery:
    """A search over the synced listings. Empty `text`: a structured query (filters and/or sort only)."""

    text: str = ""
    borough: Optional[str] = None  # the area (borough; neighbourhood where a city has no groups)
    neighbourhood: Optional[str] = None
    room_type: Optional[str] = None
    min_price: Optional[float] = None
    max_price: Optional[float] = None
    min_nights: Optional[int] = None  # on minimum_nights
    max_nights: Optional[int] = None
    min_reviews: Optional[int] = None  # on number_of_reviews
    max_reviews: Optional[int] = None
    min_reviews_per_month: Optional[float] = None
    min_availability: Optional[int] = None  # on availability_365
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

    @property
    def has_filters(self) -> bool:
        return bool(self.equality_filters() or self.range_filters())

    def sort_order(self) -> Optional[tuple[str, bool]]:
        """(field, descending) of a validated query's sort; descending unless ":asc"."""
        if not self.sort:
            return None
        field, _, direction = self.sort.partition(":")
        return field.strip(), direction.strip().lower() != "asc"


def _blank_to_none(query: SearchQuery) -> SearchQuery:
    """Forms and flags send "" for "not set"; text fields are also trimmed."""
    changes = {}
    for field in fields(SearchQuery):
        value = getattr(query, field.name)
        if isinstance(value, str) and field.name != "mode":
            stripped = value.strip()
            changes[field.name] = stripped if field.name == "text" else (stripped or None)
    changes["mode"] = (query.mode or "semantic").strip().lower()
    return replace(query, **changes)


def _match(value: str, known: Iterable[str]) -> Optional[str]:
    """The known spelling of `value`, compared case-insensitively."""
    wanted = value.casefold()
    return next((name for name in known if name.casefold() == wanted), None)


def _number_problems(query: SearchQuery) -> list[str]:
    problems = []
    for name in RANGE_FILTERS:
        value = getattr(query, name)
        label = name.replace("_", " ")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append(f"{label} must be a number, got {value!r}")
        elif value < 0:
            problems.append(f"{label} must not be negative, got {value:g}")
    if not problems:
        for low, high, label in (("min_price", "max_price", "price"), ("min_nights", "max_nights", "nights"),
                                 ("min_reviews", "max_reviews", "reviews")):
            lo, hi = getattr(query, low), getattr(query, high)
            if lo is not None and hi is not None and lo > hi:
                problems.append(f"min {label} ({lo:g}) is above max {label} ({hi:g})")
    return problems


def _sort_problems(sort: Optional[str]) -> list[str]:
    if sort is None:
        return []
    field, _, direction = sort.partition(":")
    problems = []
    if field.strip() not in SORT_FIELDS:
        problems.append(f"unknown sort field {field.strip()!r}; sortable fields: {', '.join(SORT_FIELDS)}")
    if direction.strip() and direction.strip().lower() not in SORT_DIRECTIONS:
        problems.append(f"unknown sort direction {direction.strip()!r}; use FIELD, FIELD:asc or FIELD:desc")
    return problems


def _shape_problems(query: SearchQuery) -> list[str]:
    problems = []
    if query.mode not in MODES:
        problems.append(f"unknown mode {query.mode!r}; modes: {', '.join(MODES)}")
    elif query.mode != "semantic" and query.is_structured:
        problems.append(f"{query.mode} mode needs a search text")
    elif query.is_structured and not query.has_filters and not query.sort:
        problems.append("nothing to search for: give a text, a filter or a sort")
    if isinstance(query.limit, bool) or not isinstance(query.limit, int) or not 1 <= query.limit <= MAX_LIMIT:
        problems.append(f"limit must be between 1 and {MAX_LIMIT}, got {query.limit!r}")
    alpha = query.alpha
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        problems.append(f"alpha must be between 0 and 1 (1 = pure vector, 0 = pure keyword), got {alpha!r}")
    return problems


def normalized_query(
    query: SearchQuery,
    known_areas: Optional[Sequence[str]] = None,
    known_neighbourhoods: Optional[Sequence[str]] = None,
) -> SearchQuery:
    """The query with names in their stored spelling; raises SearchError naming every problem.

    `known_areas` / `known_neighbourhoods` None: that name is not checked (the
    store then simply finds nothing for a name it does not hold).
    """
    query = _blank_to_none(query)
    problems: list[str] = []
    changes = {}
    if query.borough is not None and known_areas is not None:
        changes["borough"] = _match(query.borough, known_areas)
        if changes["borough"] is None:
            problems.append(f"unknown borough {query.borough!r}; known areas: {', '.join(known_areas) or 'none'}")
    if query.neighbourhood is not None and known_neighbourhoods is not None:
        changes["neighbourhood"] = _match(query.neighbourhood, known_neighbourhoods)
        if changes["neighbourhood"] is None:
            close = difflib.get_close_matches(query.neighbourhood, list(known_neighbourhoods), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            problems.append(f"unknown neighbourhood {query.neighbourhood!r}{hint}")
    if query.room_type is not None:
        changes["room_type"] = _match(query.room_type, ROOM_TYPES)
        if changes["room_type"] is None:
            problems.append(f"unknown room type {query.room_type!r}; room types: {', '.join(ROOM_TYPES)}")
    problems += _number_problems(query) + _sort_problems(query.sort) + _shape_problems(query)
    if problems:
        raise SearchError("; ".join(problems))
    return replace(query, **changes)


def validate_query(
    query: SearchQuery,
    known_areas: Optional[Sequence[str]],
    known_neighbourhoods: Optional[Sequence[str]] = None,
) -> None:
    """Raises SearchError naming every problem with `query`; see `normalized_query`."""
    normalized_query(query, known_areas, known_neighbourhoods)
