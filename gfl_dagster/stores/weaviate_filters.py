"""Weaviate filters and sort built from a validated SearchQuery (pure: builds client objects, no server).

Mirrors gfl_dagster/db/search_sql.py (pgvector) so both stores answer a query alike:
equality on the FIELD-tokenized text properties, inclusive ranges on the numbers,
and a structured query leaves out objects without a value for its sort field.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Optional

from weaviate.classes.query import Filter, Sort

from gfl_dagster.stores.contract import VECTOR_FIELDS
from gfl_dagster.search.query import SearchQuery

_INTEGER_COLUMNS = {field.name for field in VECTOR_FIELDS if field.kind == "integer"}
# Lower than any stored value: a range filter from here only tests that the property is present
# (Weaviate keeps absent values out of its inverted index, so such objects never match).
_PRESENT_FROM: dict[str, Any] = {"last_review": datetime(1900, 1, 1, tzinfo=timezone.utc)}
_LOWEST_NUMBER = -1e15


def _bound(column: str, op: str, value: float) -> Any:
    """Integer properties take integer filter values; round inward so the range keeps its meaning."""
    if column in _INTEGER_COLUMNS:
        return math.ceil(value) if op == ">=" else math.floor(value)
    return float(value)


def _all_of(parts: list[Any]) -> Optional[Any]:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Filter.all_of(parts)


def filter_parts(query: SearchQuery) -> list[Any]:
    parts = [Filter.by_property(column).equal(value) for column, value in query.equality_filters().items()]
    for column, op, value in query.range_filters():
        bound = _bound(column, op, value)
        prop = Filter.by_property(column)
        parts.append(prop.greater_or_equal(bound) if op == ">=" else prop.less_or_equal(bound))
    return parts


def search_filters(query: SearchQuery) -> Optional[Any]:
    """The query's filters as one Weaviate filter (None: no filter)."""
    return _all_of(filter_parts(query))


def structured_filters_and_sort(query: SearchQuery) -> tuple[Optional[Any], Any]:
    """Filters (plus "has a value for the sort field") and sort of a query without text; ties by listing id."""
    sort_field, descending = query.sort_order() or ("listing_id", False)
    parts = filter_parts(query)
    if sort_field != "listing_id":
        low = _PRESENT_FROM.get(sort_field, _LOWEST_NUMBER)
        parts.append(Filter.by_property(sort_field).greater_or_equal(
            int(low) if sort_field in _INTEGER_COLUMNS else low))
    sort = Sort.by_property(sort_field, ascending=not descending)
    if sort_field != "listing_id":
        sort = sort.by_property("listing_id", ascending=True)
    return _all_of(parts), sort
