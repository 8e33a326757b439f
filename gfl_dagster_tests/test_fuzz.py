"""Bad input, fuzzed (Hypothesis): CSV files never crash the parser and every record is accounted for;
search parameters never give anything but a clear SearchError naming what to change."""

import csv
import io
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gfl_dagster.db.tables import LISTING_COLUMNS, SUMMARY_LISTING_COLUMNS
from gfl_dagster.listings.amenities import amenity_features
from gfl_dagster.listings.csv_rows import CsvFormatError, parse_csv
from gfl_dagster.listings.detailed_rows import DETAILED_MARKERS, parse_detailed_csv, parse_listings_file
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
    columns=st.lists(st.sampled_from(SUMMARY_LISTING_COLUMNS + ("extra", "ID", " name ")), min_size=1, max_size=20),
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
        assert set(row) == set(SUMMARY_LISTING_COLUMNS) and row["id"] >= 1
        assert row["room_type"] in ("Entire home/apt", "Private room", "Shared room", "Hotel room")
        assert math.isfinite(row["latitude"]) and -90 <= row["latitude"] <= 90


DETAILED_FIELD = st.one_of(
    FIELD,
    st.sampled_from(["t", "f", "T", "yes", "4.93", "5.0", "0.0", "5.01", "-0.1", "1.5 shared baths", "Half-bath",
                     "Private half-bath", "Shared half-bath", "0 baths", "2 half-bath", "baths", "$1,234.00", "$0.00",
                     "$-1.00", "Central Region", "Entire rental unit", "Singapore, Singapore",
                     '["Wifi", "Free washer \u2013 In unit", "No pool"]', '["Wifi", 3]', "[]", "[", "{}", "null",
                     '"just a string"', "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]", "Cozy<br /><br />flat &amp; <b>view",
                     "<script>alert(1)</script>", "<", "&#0;", "&#x110000;", "<!--", "<![CDATA["]),
    st.lists(st.text(max_size=15), max_size=6).map(lambda items: __import__("json").dumps(items)),
)
DETAILED_HEADER = ["id", "name", "host_id", "host_name", "neighbourhood_cleansed", "neighbourhood_group_cleansed",
                   "latitude", "longitude", "room_type", "price", "minimum_nights", "number_of_reviews", "last_review",
                   "property_type", "accommodates", "bedrooms", "beds", "bathrooms", "bathrooms_text", "amenities",
                   "review_scores_rating", "review_scores_accuracy", "review_scores_cleanliness",
                   "review_scores_checkin", "review_scores_communication", "review_scores_location",
                   "review_scores_value", "host_is_superhost", "instant_bookable", "description",
                   "neighborhood_overview", "neighbourhood"]


VALID_DETAILED = {"id": "7", "latitude": "1.3", "longitude": "103.8", "room_type": "Private room",
                  "neighbourhood_cleansed": "Novena", "property_type": "Entire condo", "accommodates": "2",
                  "amenities": '["Wifi"]', "bathrooms_text": "1 bath", "price": "$1,234.00"}


@st.composite
def detailed_files(draw):
    """A detailed header (required columns, then any) and records that are valid but for a few fuzzed fields."""
    columns = list(dict.fromkeys(list(VALID_DETAILED) + draw(st.lists(
        st.sampled_from(DETAILED_HEADER + ["extra", "ID", "availability_eoy"]), max_size=34))))
    rows = []
    for number in range(draw(st.integers(0, 15))):
        row = [VALID_DETAILED.get(column, "") for column in columns]
        row[0] = str(number + 1)
        for index in draw(st.lists(st.integers(0, len(columns) - 1), max_size=4)):
            row[index] = draw(DETAILED_FIELD)
        if draw(st.integers(0, 9)) == 0:
            row = row[:draw(st.integers(0, len(row)))]  # a short record
        rows.append(row)
    return columns, rows


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=detailed_files(), encoding=st.sampled_from(["utf-8", "latin-1"]), gzipped=st.booleans())
def test_any_detailed_csv_is_read_without_a_crash_and_every_record_is_accounted_for(
        tmp_path_factory, file, encoding, gzipped):
    columns, rows = file
    data = _csv_bytes(columns, rows, encoding)
    path = tmp_path_factory.mktemp("fuzz") / ("listings.csv.gz" if gzipped else "listings.csv")
    path.write_bytes(__import__("gzip").compress(data) if gzipped else data)
    parsed = parse_listings_file(path)  # the header always has the required columns: no CsvFormatError
    text = data.decode("utf-8-sig", errors="replace")
    records = [r for r in list(csv.reader(io.StringIO(text, newline="")))[1:] if r and r != [""]]
    assert len(parsed.rows) + len(parsed.rejects) == len(records)
    assert all(reject.reason for reject in parsed.rejects)
    for row in parsed.rows:
        assert row["id"] >= 1 and row["neighbourhood"] != "Singapore, Singapore" or row["neighbourhood"] is None
        assert isinstance(row["amenities"], list) and all(isinstance(a, str) and a for a in row["amenities"])
        for column in ("review_scores_rating", "review_scores_value"):
            assert row[column] is None or 0 <= row[column] <= 5
        assert row["baths"] is None or (math.isfinite(row["baths"]) and row["baths"] >= 0)
        assert row["host_is_superhost"] in (None, True, False) and row["instant_bookable"] in (None, True, False)
        assert set(row) == set(LISTING_COLUMNS)
        assert row["amenity_features"] == amenity_features(row["amenities"])
        for column in ("host_description", "neighborhood_overview"):
            assert row[column] is None or ("<script" not in row[column] and "\x00" not in row[column])


def test_a_detailed_record_without_a_place_is_rejected_not_lost(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text(",".join(DETAILED_HEADER) + "\n" + ",".join(["7"] + [""] * (len(DETAILED_HEADER) - 1)) + "\n")
    parsed = parse_detailed_csv(path)
    assert parsed.rows == [] and [r.listing_id for r in parsed.rejects] == ["7"]


HOST_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(["<br />", "<b>", "</b>", "<script>", "</script>", "<p", "&amp;", "&#0;", "&#x110000;",
                              "<!--", "-->", "<![CDATA[", "]]>", "<", ">", "\x00", "\u2028", "word", " ", "\n",
                              "<style>", "<iframe src=x>", "&nbsp;", "·", "★4.9", " · ", "1 private bath", "Studio",
                              "No pool", "Free washer – In unit"]), max_size=40).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(text=HOST_TEXT)
def test_the_detailed_files_small_parsers_never_crash(text):
    from gfl_dagster.listings.amenities import default_amenity_map
    from gfl_dagster.listings.bathrooms import BathsError, parse_baths
    from gfl_dagster.listings.host_text import html_to_text
    from gfl_dagster.listings.name_facts import parse_name_facts

    plain = html_to_text(text)
    # Text, not markup: no tag the parser recognized survives (stray "<" stay as the host's characters).
    assert plain is None or (plain.strip() and not re.search(r"<script[^<>]*>", plain, re.I) and "\x00" not in plain)
    facts = parse_name_facts(text)
    assert facts is None or facts.property_type
    try:
        baths = parse_baths(text)
    except BathsError as error:
        assert repr(text) in str(error)
    else:
        assert baths is None or baths.count >= 0
    assert default_amenity_map().features_of(text) <= set(default_amenity_map().names)


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
