"""Row validation of listings CSVs: pure, no database."""

import pytest

from gfl_dagster.listings.csv_rows import CsvFormatError, parse_csv
from gfl_dagster_tests.conftest import BUNDLED_CSV, HEADER_18, write_csv

GOOD = '2595,"Skylit, ""Midtown"" Castle",2845,Jennifer,Manhattan,Midtown,40.75356,-73.98559,Entire home/apt,150,30,49,2022-06-21,0.30,3,314,1,'


def test_bundled_file_parses_completely():
    parsed = parse_csv(BUNDLED_CSV)
    assert len(parsed.rows) == 2176
    assert parsed.rejects == []
    assert {row["neighbourhood_group"] for row in parsed.rows} == {"Manhattan", "Brooklyn", "Queens", "Bronx", "Staten Island"}


def test_quoted_commas_and_newlines_keep_line_numbers(tmp_path):
    path = write_csv(tmp_path / "l.csv", HEADER_18, GOOD,
                     '3,"two\nline name",1,H,Brooklyn,Bushwick,40.7,-73.9,Private room,60,1,0,,,1,0,0,',
                     '4,bad,1,H,Brooklyn,Bushwick,40.7,-73.9,Castle,60,1,0,,,1,0,0,')
    parsed = parse_csv(path)
    assert [row["id"] for row in parsed.rows] == [2595, 3]
    assert parsed.rows[0]["name"] == 'Skylit, "Midtown" Castle'
    assert parsed.rows[1]["name"] == "two\nline name"
    assert parsed.rows[1]["last_review"] is None and parsed.rows[1]["reviews_per_month"] is None
    # The bad row starts on physical line 5: the quoted newline occupies lines 3-4.
    assert [(r.line_number, r.listing_id) for r in parsed.rejects] == [(5, "4")]
    assert "room_type 'Castle'" in parsed.rejects[0].reason


@pytest.mark.parametrize("line, reason", [
    (",x,1,H,Brooklyn,B,40.7,-73.9,Private room,60,1,0,,,1,0,0,", "id is missing"),
    ("12a,x,1,H,Brooklyn,B,40.7,-73.9,Private room,60,1,0,,,1,0,0,", "id '12a' is not a whole number"),
    ("5,x,1,H,Brooklyn,B,40.7,-73.9,Private room,sixty,1,0,,,1,0,0,", "price 'sixty'"),
    ("5,x,1,H,Brooklyn,B,40.7,-73.9,Private room,-5,1,0,,,1,0,0,", "price '-5'"),
    ("5,x,1,H,Brooklyn,B,95.1,-73.9,Private room,60,1,0,,,1,0,0,", "latitude '95.1' is outside"),
    ("5,x,1,H,Brooklyn,B,40.7,-181,Private room,60,1,0,,,1,0,0,", "longitude '-181' is outside"),
    ("5,x,1,H,Brooklyn,B,,-73.9,Private room,60,1,0,,,1,0,0,", "latitude is missing"),
    ("5,x,1,H,Brooklyn,B,40.7,-73.9,Private room,60,1,0,21/06/2022,,1,0,0,", "last_review '21/06/2022'"),
    ("5,x,1,H,,,40.7,-73.9,Private room,60,1,0,,,1,0,0,", "no area"),
    ("5,x,1,H,Brooklyn,B,40.7,-73.9,Private room,60,1.5,0,,,1,0,0,", "minimum_nights '1.5'"),
    ("5,x,1,H,Brooklyn", "has 5 fields, the header has 18"),
])
def test_bad_rows_are_rejected_with_their_reason(tmp_path, line, reason):
    parsed = parse_csv(write_csv(tmp_path / "l.csv", HEADER_18, GOOD, line))
    assert [row["id"] for row in parsed.rows] == [2595], "the good row must survive the bad one"
    assert len(parsed.rejects) == 1
    assert parsed.rejects[0].line_number == 3
    assert reason in parsed.rejects[0].reason


def test_prices_in_detailed_format_and_empty_prices(tmp_path):
    parsed = parse_csv(write_csv(
        tmp_path / "l.csv", HEADER_18,
        '7,x,1,H,Brooklyn,B,40.7,-73.9,Private room,"$1,250.00",1,0,,,1,0,0,',
        "8,x,1,H,Brooklyn,B,40.7,-73.9,Private room,,1,0,,,1,0,0,",
        "9,x,1,H,Brooklyn,B,40.7,-73.9,private ROOM,0,1,0,,,1,0,0,"))
    assert [(r["price"], r["room_type"]) for r in parsed.rows] == [(1250.0, "Private room"), (None, "Private room"),
                                                                 (0.0, "Private room")]


def test_sixteen_columns_extra_columns_and_missing_optional_columns(tmp_path):
    header = "id,name,neighbourhood,latitude,longitude,room_type,price,host_rating"
    parsed = parse_csv(write_csv(tmp_path / "l.csv", header, "11,Loft,Gràcia,41.4,2.15,Hotel room,80,4.9"))
    assert parsed.rejects == []
    row = parsed.rows[0]
    assert (row["neighbourhood"], row["neighbourhood_group"], row["license"], row["room_type"]) == (
        "Gràcia", None, None, "Hotel room")
    assert parsed.ignored_columns == ["host_rating"]
    assert "number_of_reviews_ltm" in parsed.missing_columns


def test_duplicate_ids_keep_the_last_row_and_reject_the_first(tmp_path):
    parsed = parse_csv(write_csv(tmp_path / "l.csv", HEADER_18, GOOD, GOOD.replace(",150,", ",175,")))
    assert [row["price"] for row in parsed.rows] == [175.0]
    assert parsed.rejects[0].line_number == 2 and "superseded by line 3" in parsed.rejects[0].reason


def test_a_file_without_required_columns_is_refused_as_a_whole(tmp_path):
    with pytest.raises(CsvFormatError, match="lacks required column.*room_type"):
        parse_csv(write_csv(tmp_path / "l.csv", "id,name,neighbourhood,latitude,longitude", "1,x,B,1,1"))


def test_limit_reads_only_the_first_records():
    assert len(parse_csv(BUNDLED_CSV, limit=25).rows) == 25


def test_long_listing_ids_are_read_exactly(tmp_path):
    # Listing ids since 2022 have 18 digits: a float would turn 500570837329286954 into ...912.
    parsed = parse_csv(write_csv(
        tmp_path / "l.csv", HEADER_18,
        "500570837329286954,x,1,H,Central Region,Novena,1.3,103.8,Entire home/apt,265,92,0,,,1,364,0,",
        "500570837329286955,x,1,H,Central Region,Novena,1.3,103.8,Entire home/apt,265,92,0,,,1,364,0,",
        "9223372036854775808,x,1,H,Central Region,Novena,1.3,103.8,Entire home/apt,265,92,0,,,1,364,0,"))
    assert [row["id"] for row in parsed.rows] == [500570837329286954, 500570837329286955]
    assert "beyond a 64-bit integer" in parsed.rejects[0].reason
