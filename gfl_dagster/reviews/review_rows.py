"""Reading Inside Airbnb's detailed reviews file into typed review rows and rejects.

Pure logic, no database, on the listings file's machinery (listings/csv_rows.py): every record becomes exactly
one row keyed by the `reviews` columns or one `Reject` naming its line and reason. Comments are kept as written
(multi-line, with their `<br/>`); `plain_text` gives the words a summarizer reads. Whether a review's listing
exists is known only against the listings table: `without_unknown_listings` decides it at load time.
"""

from __future__ import annotations

import datetime as dt
import html
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterable, Optional

from gfl_dagster.listings.csv_rows import ParsedFile, Reject, RowError, _integer, _text, parse_csv, read_header

REVIEW_COLUMNS = ("listing_id", "id", "date", "reviewer_id", "reviewer_name", "comments")
REQUIRED_COLUMNS = ("listing_id", "id", "date", "comments")

_LISTING_ID = _integer("listing_id", minimum=1)
_ID = _integer("id", minimum=1)
_REVIEWER_ID = _integer("reviewer_id", minimum=1)


def is_reviews_file(path: Path | str) -> bool:
    """A reviews file is recognized by its header (`.csv` or `.csv.gz`), not its name."""
    header = read_header(Path(path))
    return all(column in header for column in REQUIRED_COLUMNS)


def _date(value: str) -> dt.date:
    value = value.strip()
    if not value:
        raise RowError("date is missing")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RowError(f"date {value!r} is not a YYYY-MM-DD date") from None


def _comments(value: str) -> Optional[str]:
    # As written: newlines, <br/> and spacing stay. Only NUL goes, which a Postgres text cannot hold.
    kept = value.replace("\x00", "")
    return kept if kept.strip() else None


def _required(raw: dict[str, str], column: str) -> str:
    value = (raw.get(column) or "").strip()
    if not value:
        raise RowError(f"{column} is missing")
    return value


def parse_review(raw: dict[str, str]) -> dict[str, Any]:
    """Validate one record (keyed by lower-case column names); RowError names the first bad field."""
    return {
        "listing_id": _LISTING_ID(_required(raw, "listing_id")),
        "id": _ID(_required(raw, "id")),
        "date": _date(raw.get("date") or ""),
        "reviewer_id": _REVIEWER_ID(raw.get("reviewer_id") or ""),
        "reviewer_name": _text(raw.get("reviewer_name") or ""),
        "comments": _comments(raw.get("comments") or ""),
    }


def parse_reviews(path: Path | str, limit: int | None = None) -> ParsedFile:
    """Read a reviews file (its first `limit` records) into review rows and rejects; a reject carries the
    review's listing id. A review id seen twice keeps its last row and rejects the earlier line."""
    return parse_csv(path, limit, parse=parse_review, columns_read=REVIEW_COLUMNS, area_columns=(),
                     required=REQUIRED_COLUMNS, reject_id="listing_id")


def without_unknown_listings(parsed: ParsedFile, known_listing_ids: Iterable[int]) -> ParsedFile:
    """The file's rows whose listing is known; each other row becomes a reject naming its listing.

    Pure: the loader passes the listings table's ids. A reject made here names the row's line.
    """
    known = set(known_listing_ids)
    kept = ParsedFile(ignored_columns=parsed.ignored_columns, missing_columns=parsed.missing_columns,
                      rejects=list(parsed.rejects), lines=parsed.lines)
    for row in parsed.rows:
        if row["listing_id"] in known:
            kept.rows.append(row)
        else:
            kept.rejects.append(Reject(parsed.lines.get(row["id"], 0), str(row["listing_id"]),
                                       f"review {row['id']} is of an unknown listing {row['listing_id']}",
                                       {column: "" if row[column] is None else str(row[column])
                                        for column in REVIEW_COLUMNS}))
    return kept


class _Words(HTMLParser):
    """Collects a fragment's text; a line break or block tag becomes a new line."""

    BREAKS = frozenset({"br", "p", "div", "li", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.BREAKS:
            self.parts.append("\n")

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(comments: Optional[str]) -> str:
    """A comment's words: tags stripped (`<br/>` a new line), entities decoded, lines trimmed. Still a
    stranger's text: data only, never instructions, never evidence on its own."""
    if not comments:
        return ""
    parser = _Words()
    parser.feed(comments)
    parser.close()
    text = html.unescape("".join(parser.parts)).replace("\r", "\n")
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
