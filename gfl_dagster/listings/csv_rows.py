"""Reading an Inside Airbnb summary CSV into validated listing rows and rejects.

Pure logic, no database: every row becomes either a clean `dict` keyed by the
`listings` column names or a `Reject` naming its line and reason. Nothing is
silently dropped and one bad row never stops the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Sequence

from gfl_dagster.db.tables import SUMMARY_LISTING_COLUMNS

ROOM_TYPES = ("Entire home/apt", "Private room", "Shared room", "Hotel room")
REQUIRED_COLUMNS = ("id", "latitude", "longitude", "room_type")
AREA_COLUMNS = ("neighbourhood_group", "neighbourhood")

_MONEY = re.compile(r"^\$?\s*(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_MAX_TEXT = 2000
_BIGINT = 2**63 - 1


class CsvFormatError(ValueError):
    """The file as a whole cannot be read as a listings file (not a row problem)."""


class RowError(ValueError):
    """One field of one row is invalid; the message names the field and value."""


@dataclass(frozen=True)
class Reject:
    line_number: int
    listing_id: str | None
    reason: str
    raw: dict[str, str]


@dataclass
class ParsedFile:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    lines: dict[int, int] = field(default_factory=dict)  # each kept row's line, by its id


def _text(value: str) -> str | None:
    cleaned = value.replace("\x00", "").strip()
    return cleaned[:_MAX_TEXT] if cleaned else None


def _integer(column: str, minimum: int | None = 0) -> Callable[[str], int | None]:
    def parse(value: str) -> int | None:
        value = value.strip()
        if not value:
            return None
        digits = value.replace(",", "")
        try:  # exactly: 18-digit listing ids (2022+) do not survive a float
            number = int(digits) if digits.lstrip("+-").isdigit() else float(digits)
        except ValueError:
            raise RowError(f"{column} {value!r} is not a whole number") from None
        if isinstance(number, float) and not number.is_integer():
            raise RowError(f"{column} {value!r} is not a whole number")
        if minimum is not None and number < minimum:
            raise RowError(f"{column} {value!r} is below {minimum}")
        if abs(number) > _BIGINT:
            raise RowError(f"{column} {value!r} is beyond a 64-bit integer")
        return int(number)

    return parse


def _decimal(column: str, low: float | None, high: float | None) -> Callable[[str], float | None]:
    def parse(value: str) -> float | None:
        value = value.strip()
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            raise RowError(f"{column} {value!r} is not a number") from None
        if not math.isfinite(number) or (low is not None and number < low) or (
            high is not None and number > high
        ):
            raise RowError(f"{column} {value!r} is outside [{low}, {high}]")
        return number

    return parse


def _price(value: str) -> float | None:
    value = value.strip()
    if not value:
        return None  # recent snapshots leave prices empty: unknown, not zero
    if not _MONEY.match(value):
        raise RowError(f"price {value!r} is not a non-negative amount")
    return float(value.replace("$", "").replace(",", "").strip())


def _date(value: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RowError(f"last_review {value!r} is not a YYYY-MM-DD date") from None


def _room_type(value: str) -> str:
    for known in ROOM_TYPES:
        if value.strip().lower() == known.lower():
            return known
    raise RowError(f"room_type {value!r} is not one of {', '.join(ROOM_TYPES)}")


_PARSERS: dict[str, Callable[[str], Any]] = {
    "id": _integer("id", minimum=1),
    "name": _text,
    "host_id": _integer("host_id"),
    "host_name": _text,
    "neighbourhood_group": _text,
    "neighbourhood": _text,
    "latitude": _decimal("latitude", -90.0, 90.0),
    "longitude": _decimal("longitude", -180.0, 180.0),
    "room_type": _room_type,
    "price": _price,
    "minimum_nights": _integer("minimum_nights"),
    "number_of_reviews": _integer("number_of_reviews"),
    "last_review": _date,
    "reviews_per_month": _decimal("reviews_per_month", 0.0, None),
    "calculated_host_listings_count": _integer("calculated_host_listings_count"),
    "availability_365": _integer("availability_365"),
    "number_of_reviews_ltm": _integer("number_of_reviews_ltm"),
    "license": _text,
}


def parse_row(raw: dict[str, str]) -> dict[str, Any]:
    """Validate one CSV record (already keyed by lower-case column names).

    Raises RowError naming the first bad field; optional columns that are absent
    become None.
    """
    if not raw.get("id", "").strip():
        raise RowError("id is missing")
    row = {column: _PARSERS[column](raw.get(column) or "") for column in SUMMARY_LISTING_COLUMNS}
    for column in ("latitude", "longitude"):
        if row[column] is None:
            raise RowError(f"{column} is missing")
    if not (row["neighbourhood_group"] or row["neighbourhood"]):
        raise RowError("neighbourhood_group and neighbourhood are both empty: the listing has no area")
    return row


def _normalise_header(header: list[str]) -> list[str]:
    return [name.strip().lstrip("\ufeff").lower() for name in header]


GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)  # a damaged .gz: the file, not a row


def unreadable_gzip(path: Path, error: Exception) -> CsvFormatError:
    return CsvFormatError(f"{path} is not a readable gzip file ({error}): download it again")


def open_text(path: Path) -> IO[str]:
    """A listings file as published: plain, or gzipped as Inside Airbnb serves the detailed files."""
    if Path(path).name.lower().endswith(".gz"):
        return gzip.open(path, "rt", newline="", encoding="utf-8-sig", errors="replace")
    return open(path, newline="", encoding="utf-8-sig", errors="replace")


def read_header(path: Path) -> list[str]:
    """A file's column names, normalised ([] for an empty file): how a loader tells one source's file from
    another's."""
    try:
        with open_text(path) as handle:
            return _normalise_header(next(csv.reader(handle), []))
    except GZIP_ERRORS as error:
        raise unreadable_gzip(path, error) from None


def iter_csv_records(
    path: Path, area_columns: Sequence[str] = AREA_COLUMNS, required: Sequence[str] = REQUIRED_COLUMNS,
) -> Iterator[tuple[int, dict[str, str] | None, str | None]]:
    try:
        yield from _csv_records(path, area_columns, required)
    except GZIP_ERRORS as error:
        raise unreadable_gzip(path, error) from None


def _csv_records(
    path: Path, area_columns: Sequence[str], required: Sequence[str]
) -> Iterator[tuple[int, dict[str, str] | None, str | None]]:
    """Yield (first line number, record, problem) for each CSV record.

    The header must have the `required` columns and one of `area_columns` (if any: another source's
    file, reviews, has none).

    The line number is the record's first physical line, so quoted newlines in
    names do not shift it. A record with the wrong field count yields a problem.
    """
    with open_text(path) as handle:
        reader = csv.reader(handle)
        try:
            header = _normalise_header(next(reader))
        except StopIteration:
            raise CsvFormatError(f"{path} is empty: expected a header line") from None
        missing = [c for c in required if c not in header]
        if missing or (area_columns and not any(c in header for c in area_columns)):
            wanted = missing or [" or ".join(area_columns)]
            raise CsvFormatError(
                f"{path} lacks required column(s) {', '.join(wanted)}; header is: {', '.join(header)}"
            )
        yield 1, dict.fromkeys(header, ""), None  # the header itself, for column reporting
        line = reader.line_num
        while True:
            start = line + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                line = reader.line_num
                yield start, None, f"unreadable CSV record: {error}"
                continue
            line = reader.line_num
            if not fields or fields == [""]:
                continue  # blank line
            if len(fields) != len(header):
                yield start, dict(zip(header, fields)), (
                    f"has {len(fields)} fields, the header has {len(header)}"
                )
                continue
            yield start, dict(zip(header, fields)), None


def parse_csv(
    path: Path | str,
    limit: int | None = None,
    parse: Callable[[dict[str, str]], dict[str, Any]] = parse_row,
    columns_read: Sequence[str] = SUMMARY_LISTING_COLUMNS,
    area_columns: Sequence[str] = AREA_COLUMNS,
    required: Sequence[str] = REQUIRED_COLUMNS,
    reject_id: str = "id",
) -> ParsedFile:
    """Read a listings file (its first `limit` records) into clean rows and rejects.

    `parse` turns one record into a row (raising RowError); `columns_read` are the
    columns it reads, for reporting the file's ignored and missing ones, and
    `area_columns` those of which it needs one, `required` those it cannot do without;
    a reject carries the record's `reject_id` column (a review's, its listing id). An id
    (`row["id"]`) that appears twice keeps its last row; the earlier one is rejected with
    the line that superseded it.
    """
    path = Path(path)
    parsed = ParsedFile()
    by_id: dict[int, tuple[int, dict[str, Any], dict[str, str]]] = {}
    records = iter_csv_records(path, area_columns, required)
    _, header, _ = next(records)
    columns = list(header or {})
    parsed.ignored_columns = [c for c in columns if c not in columns_read]
    parsed.missing_columns = [c for c in columns_read if c not in columns]
    for count, (line_number, record, problem) in enumerate(records):
        if limit is not None and count >= limit:
            break
        raw = record or {}
        listing_id = (raw.get(reject_id) or "").strip() or None
        if problem is None:
            try:
                row = parse(raw)
            except RowError as error:
                problem = str(error)
        if problem is not None:
            parsed.rejects.append(Reject(line_number, listing_id, problem, raw))
            continue
        earlier = by_id.get(row["id"])
        if earlier is not None:
            parsed.rejects.append(
                Reject(earlier[0], (earlier[2].get(reject_id) or "").strip() or None, f"duplicate id {row['id']}: superseded by line {line_number}", earlier[2])
            )
        by_id[row["id"]] = (line_number, row, raw)
    parsed.rows = [row for _, row, _ in sorted(by_id.values(), key=lambda kept: kept[0])]
    parsed.lines = {key: line for key, (line, _, _) in by_id.items()}
    return parsed
