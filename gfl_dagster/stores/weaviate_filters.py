"""Weaviate filters and sort built from a validated query (pure: builds client objects, no server).

Mirrors gfl_dagster/db/search_sql.py (pgvector) so both stores answer a query alike:
equality on the FIELD-tokenized text properties, inclusive ranges on the numbers,
equality on the bools, "contains all" on the FIELD-tokenized text arrays (list fields), and a structured query leaves out objects without a value for its sort field.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Optional

from weaviate.classes.query import Filter, Sort

from gfl_dagster.spec import SourceSpec, StoreQuery

# Lower than any stored value: a range filter from here only tests that the property is present
# (Weaviate keeps absent values out of its inverted index, so such objects never match).
_EARLIEST_DATE = datetime(1900, 1, 1, tzinfo=timezone.utc)
_LOWEST_NUMBER = -1e15


def _bound(spec: SourceSpec, column: str, op: str, value: float) -> Any:
    """Integer properties take integer filter values; round inward so the range keeps its meaning."""
    if spec.field(column).kind == "integer":
        return math.ceil(value) if op == ">=" else math.floor(value)
    return float(value)


def _all_of(parts: list[Any]) -> Optional[Any]:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Filter.all_of(parts)


def filter_parts(spec: SourceSpec, query: StoreQuery) -> list[Any]:
    parts = [Filter.by_property(column).equal(value) for column, value in query.equality_filters().items()]
    for column, op, value in query.range_filters():
        bound = _bound(spec, column, op, value)
        prop = Filter.by_property(column)
        parts.append(prop.greater_or_equal(bound) if op == ">=" else prop.less_or_equal(bound))
    for column, op, values in query.set_filters():
        prop = Filter.by_property(column)  # FIELD-tokenized: a value matches whole, as the equality filters
        if op == "in":
            parts.append(prop.contains_any(list(values)))
        else:
            parts.extend(prop.not_equal(value) for value in values)
    parts.extend(Filter.by_property(column).equal(bool(value)) for column, value in query.bool_filters().items())
    parts.extend(Filter.by_property(column).contains_all(list(values)) for column, values in query.list_filters())
    return parts


def search_filters(spec: SourceSpec, query: StoreQuery) -> Optional[Any]:
    """The query's filters as one Weaviate filter (None: no filter)."""
    return _all_of(filter_parts(spec, query))


def _lowest(spec: SourceSpec, field: str) -> Any:
    kind = spec.field(field).kind
    return _EARLIEST_DATE if kind == "date" else int(_LOWEST_NUMBER) if kind == "integer" else _LOWEST_NUMBER


def structured_filters_and_sort(spec: SourceSpec, query: StoreQuery) -> tuple[Optional[Any], Any]:
    """Filters (plus "has a value for the sort field") and sort of a query without text; ties by key."""
    key = spec.store_key
    sort_field, descending = query.sort_order() or (key, False)
    parts = filter_parts(spec, query)
    if sort_field != key:
        parts.append(Filter.by_property(sort_field).greater_or_equal(_lowest(spec, sort_field)))
    sort = Sort.by_property(sort_field, ascending=not descending)
    if sort_field != key:
        sort = sort.by_property(key, ascending=True)
    return _all_of(parts), sort
