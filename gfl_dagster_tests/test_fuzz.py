"""Bad input, fuzzed (Hypothesis): CSV files never crash the parser and every record is accounted for;
search parameters never give anything but a clear SearchError naming what to change."""

import csv
import io
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gfl_dagster.db.tables import LISTING_COLUMNS
from gfl_dagster.listings.csv_rows import CsvFormatError, parse_csv
from gfl_dagster.search.query import SearchError, normalized_query
from gfl_dagster.search.query import query_from_params

FIELD = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "Brooklyn", "Private room", "Entire home/apt", "$1,200.50", "-3", "1e309", "nan",
                     "40.7", "2023-02-30", "\x00", "\"quoted, comma\"", "line\nbreak"]),
    st.text(min_size=2500, max_size=3000, alphabet="ab"),  # a huge field
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


def _csv_bytes(header: list[str], rows: list[list[str]], encoding: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding, errors="replace")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    columns=st.lists(st.sampled_from(LISTING_COLUMNS + ("extra", "ID", " name ")), min_size=1, max_size=20),
    rows=st.lists(st.lists(FIELD, min_size=0, max_size=22), max_size=25),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
)
def test_any_csv_is_read_without_a_crash_and_every_record_is_accounted_for(tmp_path_factory, columns, rows,
                                                                            encoding):
    path = tmp_path_factory.mktemp("fuzz") / "listings.csv"
    path.write_bytes(_csv_bytes(columns, rows, encoding))
    try:
        parsed = parse_csv(path)
    except CsvFormatError as error:  # the file as a whole is not a listings file: said so, by name
        assert str(path) in str(error)
        return
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        records = [r for r in list(csv.reader(handle))[1:] if r and r != [""]]
    # Every record is exactly one row or one reject (a duplicate id rejects its earlier line): none is dropped.
    assert len(parsed.rows) + len(parsed.rejects) == len(records)
    assert all(reject.reason for reject in parsed.rejects)
    for row in parsed.rows:
        assert set(row) == set(LISTING_COLUMNS) and row["id"] >= 1
        assert row["room_type"] in ("Entire home/apt", "Private room", "Shared room", "Hotel room")
        assert math.isfinite(row["latitude"]) and -90 <= row["latitude"] <= 90


PARAM_NAMES = st.sampled_from(["text", "borough", "neighbourhood", "room_type", "min_price", "max_price",
                               "min_nights", "max_nights", "min_reviews", "max_reviews", "min_reviews_per_month",
                               "min_availability", "sort", "mode", "alpha", "limit", "colour", ""])
PARAM_VALUES = st.one_of(st.text(max_size=40), st.sampled_from(
    ["", "nan", "inf", "-1", "0", "101", "1e308", "price:desc", "price:sideways", "rating", "hybrid", "keyword",
     "Brooklyn", "Atlantis", "Private room", "castle", "0.5", "2", "Ω≈ç√∫", "x" * 10_000]))


@settings(max_examples=300, deadline=None)
@given(params=st.dictionaries(PARAM_NAMES, PARAM_VALUES, max_size=8))
def test_any_search_parameters_are_a_valid_query_or_a_clear_refusal(params):
    try:
        query = normalized_query(query_from_params(params), ["Bronx", "Brooklyn", "Manhattan"], ["Harlem"])
    except SearchError as error:
        message = str(error)
        assert message and "Traceback" not in message and "psycopg2" not in message
        return
    assert 1 <= query.limit <= 100 and 0 <= query.alpha <= 1
    assert query.mode in ("semantic", "hybrid", "keyword")
    for name in ("min_price", "max_price", "min_nights", "max_nights", "min_reviews", "max_reviews"):
        value = getattr(query, name)
        assert value is None or (math.isfinite(value) and value >= 0)


@pytest.mark.parametrize("params, named", [
    ({"min_price": "cheap"}, "min_price"), ({"limit": "many"}, "limit"), ({"colour": "red"}, "colour"),
    ({"text": "x", "sort": "rating"}, "sort field"), ({"text": "x", "alpha": "2"}, "alpha"),
])
def test_a_refusal_names_the_parameter(params, named):
    with pytest.raises(SearchError, match=named):
        normalized_query(query_from_params(params), ["Brooklyn"])
