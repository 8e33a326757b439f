"""URL query parameters -> SearchQuery, with the same error type search uses.

Parameters are named as SearchQuery's fields. Empty values mean "not set", so a
form can send every field. Unknown names are refused: a misspelt filter that is
silently ignored returns plausible but wrong results.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from gfl_dagster.search.retrieval import SearchError, SearchQuery

_TEXT = ("text", "borough", "neighbourhood", "room_type", "sort", "mode")
_WHOLE_NUMBERS = ("min_nights", "max_nights", "min_reviews", "max_reviews", "min_availability", "limit")
_NUMBERS = ("min_price", "max_price", "min_reviews_per_month", "alpha")

_CONVERTERS: dict[str, Callable[[str], Any]] = {
    **{name: str for name in _TEXT},
    **{name: int for name in _WHOLE_NUMBERS},
    **{name: float for name in _NUMBERS},
}


def query_from_params(params: Mapping[str, str]) -> SearchQuery:
    unknown = sorted(set(params) - set(_CONVERTERS))
    if unknown:
        raise SearchError(f"unknown parameter(s): {', '.join(unknown)}; known: {', '.join(_CONVERTERS)}")
    values = {name: _convert(name, raw) for name, raw in params.items() if raw.strip()}
    return SearchQuery(**values)


def _convert(name: str, raw: str) -> Any:
    converter = _CONVERTERS[name]
    if converter is str:
        return raw
    kind = "a whole number" if converter is int else "a number"
    try:
        value = converter(raw.strip())
    except ValueError:
        raise SearchError(f"{name} must be {kind}, got {raw!r}") from None
    if not math.isfinite(value):  # float() accepts "nan" and "inf"
        raise SearchError(f"{name} must be {kind}, got {raw!r}")
    return value
