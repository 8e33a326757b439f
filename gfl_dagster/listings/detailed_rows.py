"""Reading an Inside Airbnb detailed listings file (75 columns; 79 from 2025) into typed rows and rejects.

The detailed file is recognized by its header. Each record becomes exactly one
row or one reject with its reason, as for the summary file (csv_rows): the facts
both files have are validated by the summary's own parser, fed the detailed
file's places (`neighbourhood_cleansed`, `neighbourhood_group_cleansed`; its
`neighbourhood` column is the host's free text, not a place). So the area is
decided as for a summary file: the group, or the neighbourhood when the group is
empty (Boston). The detailed facts are added under the file's own column names.

An empty price keeps the row with the price unknown (None), as the summary path
does: Boston 2024 has 782 of them, listings that still have their amenities,
ratings and host text, and a search with a price bound simply leaves them out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

from gfl_dagster.db.tables import LISTING_COLUMNS, SUMMARY_LISTING_COLUMNS
from gfl_dagster.listings.amenities import amenity_features
from gfl_dagster.listings.bathrooms import BathsError, parse_baths
from gfl_dagster.listings.csv_rows import (
    ParsedFile,
    RowError,
    _decimal,
    _integer,
    _normalise_header,
    _text,
    parse_csv,
    parse_row,
    read_header,
)
from gfl_dagster.listings.host_text import html_to_text
from gfl_dagster.listings.name_facts import filled_from_name

# Columns only the detailed file has; a header with all of them is a detailed file.
DETAILED_MARKERS = ("neighbourhood_cleansed", "property_type", "accommodates", "amenities")

REVIEW_SCORES = (
    "review_scores_rating",
    "review_scores_accuracy",
    "review_scores_cleanliness",
    "review_scores_checkin",
    "review_scores_communication",
    "review_scores_location",
    "review_scores_value",
)
FLAGS = ("host_is_superhost", "instant_bookable")
# The host's words: the table's column <- the file's. The file's `description` is kept as host_description, so
# it is never taken for the generated description.
HOST_TEXTS = {"host_description": "description", "neighborhood_overview": "neighborhood_overview"}
# Derived here from the file's columns, not read from it.
DERIVED = ("baths", "baths_shared", "amenity_features")

# The facts a detailed row adds to the summary's (the `listings` table's columns after the summary file's),
# under the detailed file's own column names.
DETAILED_COLUMNS = LISTING_COLUMNS[len(SUMMARY_LISTING_COLUMNS):]
# The columns of the file this parser reads (others are reported as ignored).
COLUMNS_READ = tuple(
    c for c in SUMMARY_LISTING_COLUMNS if c not in ("neighbourhood", "neighbourhood_group")
) + ("neighbourhood_cleansed", "neighbourhood_group_cleansed", "bathrooms") + tuple(
    HOST_TEXTS.get(c, c) for c in DETAILED_COLUMNS if c not in DERIVED
)
AREA_COLUMNS = ("neighbourhood_group_cleansed", "neighbourhood_cleansed")
MAX_AMENITIES = 500
MAX_AMENITY_LENGTH = 200


def is_detailed_header(columns: Sequence[str]) -> bool:
    names = set(_normalise_header(list(columns)))
    return all(marker in names for marker in DETAILED_MARKERS)


def is_detailed_file(path: Path | str) -> bool:
    """Whether a listings file is the detailed one, by its header (a damaged .gz raises CsvFormatError)."""
    return is_detailed_header(read_header(Path(path)))


def _flag(column: str) -> Callable[[str], bool | None]:
    def parse(value: str) -> bool | None:
        value = value.strip().lower()
        if not value:
            return None
        if value in ("t", "true"):
            return True
        if value in ("f", "false"):
            return False
        raise RowError(f"{column} {value!r} is not 't' or 'f'")

    return parse


def _amenities(value: str) -> list[str]:
    """The host's amenity strings as written (a JSON list), trimmed, without empties or repeats."""
    if not value.strip():
        return []
    try:
        items = json.loads(value)
    except (ValueError, RecursionError):
        raise RowError(f"amenities {value[:80]!r} is not a JSON list") from None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise RowError(f"amenities {value[:80]!r} is not a JSON list of strings")
    kept = list(dict.fromkeys(text[:MAX_AMENITY_LENGTH] for text in map(_text, items) if text))
    if len(kept) > MAX_AMENITIES:
        raise RowError(f"amenities lists {len(kept)} strings, more than {MAX_AMENITIES}")
    return kept


_DETAILED_PARSERS: dict[str, Callable[[str], Any]] = {
    "property_type": _text,
    "accommodates": _integer("accommodates"),
    "bedrooms": _integer("bedrooms"),
    "beds": _integer("beds"),
    "bathrooms_text": _text,
    **{column: _decimal(column, 0.0, 5.0) for column in REVIEW_SCORES},
    **{column: _flag(column) for column in FLAGS},
    "amenities": _amenities,
}
_BATHROOMS = _decimal("bathrooms", 0.0, None)


def parse_detailed_row(raw: dict[str, str]) -> dict[str, Any]:
    """Validate one detailed record (keyed by lower-case column names); raises RowError naming the field."""
    summary = dict(raw)
    summary["neighbourhood"] = raw.get("neighbourhood_cleansed") or ""
    summary["neighbourhood_group"] = raw.get("neighbourhood_group_cleansed") or ""
    row = parse_row(summary)
    for column, parse in _DETAILED_PARSERS.items():
        row[column] = parse(raw.get(column) or "")
    for column, source in HOST_TEXTS.items():
        row[column] = html_to_text(raw.get(source) or "")
    row["amenity_features"] = amenity_features(row["amenities"])
    try:
        baths = parse_baths(row["bathrooms_text"] or "")
    except BathsError as error:
        raise RowError(f"bathrooms_text {error}") from None
    if baths is None:  # 2024+ files also have a numeric `bathrooms`, sometimes without the text
        count = _BATHROOMS(raw.get("bathrooms") or "")
        row["baths"], row["baths_shared"] = count, None
    else:
        row["baths"], row["baths_shared"] = baths.count, baths.shared
    return _filled_from_name(row)


def _filled_from_name(row: dict[str, Any]) -> dict[str, Any]:
    """Counts the columns leave empty but Inside Airbnb's own name states (2023+ names).

    Singapore 2023: 1,485 listings have no `bedrooms` while their name says "1 bedroom";
    where both are present they never disagree. Only a name wholly in Inside Airbnb's
    form whose property type agrees with the row's (name_facts.trusted_name_facts): a
    host's own name is untrusted text, never a source of facts.
    """
    return filled_from_name(row, ("bedrooms", "beds", "baths"))


def parse_detailed_csv(path: Path | str, limit: int | None = None) -> ParsedFile:
    """Read a detailed listings file (.csv or .csv.gz) into rows and rejects, like csv_rows.parse_csv."""
    return parse_csv(path, limit, parse=parse_detailed_row, columns_read=COLUMNS_READ, area_columns=AREA_COLUMNS)


def parse_listings_file(path: Path | str, limit: int | None = None) -> ParsedFile:
    """Either Inside Airbnb listings file as published, recognized by its header."""
    if is_detailed_file(path):
        return parse_detailed_csv(path, limit)
    return parse_csv(path, limit)
