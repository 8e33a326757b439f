"""The reviews file: each record one typed row or one reject with its reason; comments kept as written."""

import csv
import gzip
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gfl_dagster.listings.csv_rows import CsvFormatError, parse_csv
from gfl_dagster.reviews.review_rows import (REVIEW_COLUMNS, is_reviews_file, parse_reviews, plain_text,
                                             without_unknown_listings)
from gfl_dagster_tests.conftest import BUNDLED_CSV, HEADER_18, shared_csv, write_csv

HEADER = ",".join(REVIEW_COLUMNS)
SINGAPORE_REVIEWS = "insideairbnb_singapore_2023-09_reviews.csv.gz"


def test_rows_are_typed_and_comments_survive_as_written(tmp_path):
    path = write_csv(tmp_path / "r.csv", HEADER,
                     '71609,793880,2011-12-19,1456140,Max,"Clean.<br/>Thank you,\nBelinda."',
                     "954263424474862613,954263424474862614,2023-08-20,,,")
    parsed = parse_reviews(path)
    assert parsed.rejects == []
    first, second = parsed.rows
    assert first["comments"] == "Clean.<br/>Thank you,\nBelinda." and first["date"].isoformat() == "2011-12-19"
    # 18 digits, exactly: a float would round them.
    assert (second["listing_id"], second["id"]) == (954263424474862613, 954263424474862614)
    assert second["reviewer_id"] is None and second["comments"] is None


def test_bad_records_are_rejects_naming_their_line_and_reason(tmp_path):
    path = write_csv(tmp_path / "r.csv", HEADER,
                     "1,10,2020-01-01,5,A,good", ",11,2020-01-01,5,A,no listing", "1,,2020-01-01,5,A,no id",
                     "1,1x2,2020-01-01,5,A,bad id", "1,13,2020-02-30,5,A,bad date", "1,14,,5,A,no date",
                     "1,15,2020-01-01,-5,A,bad reviewer", "1,16,2020-01-01", "1,10,2021-01-01,5,A,again")
    parsed = parse_reviews(path)
    assert [(r["id"], r["comments"]) for r in parsed.rows] == [(10, "again")]
    reasons = {reject.line_number: reject.reason for reject in parsed.rejects}
    assert "listing_id is missing" in reasons[3] and "id is missing" in reasons[4]
    assert "id '1x2' is not a whole number" in reasons[5]
    assert "date '2020-02-30'" in reasons[6] and "date is missing" in reasons[7]
    assert "reviewer_id '-5' is below 1" in reasons[8] and "has 3 fields" in reasons[9]
    assert "duplicate id 10: superseded by line 10" in reasons[2]


def test_a_review_of_an_unknown_listing_is_a_reject_at_load_time(tmp_path):
    parsed = parse_reviews(write_csv(tmp_path / "r.csv", HEADER, "1,10,2020-01-01,5,A,x", "2,11,2020-01-01,5,B,y"))
    kept = without_unknown_listings(parsed, {1})
    assert [r["id"] for r in kept.rows] == [10]
    assert [(r.listing_id, r.reason) for r in kept.rejects] == [("2", "review 11 is of an unknown listing 2")]
    assert kept.rejects[0].raw["comments"] == "y"


def test_the_file_is_recognized_by_its_header_gzipped_or_not(tmp_path):
    plain = write_csv(tmp_path / "anything.csv", HEADER, "1,10,2020-01-01,5,A,x")
    zipped = tmp_path / "reviews.csv.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    assert is_reviews_file(plain) and is_reviews_file(zipped)
    assert parse_reviews(zipped).rows == parse_reviews(plain).rows
    assert not is_reviews_file(BUNDLED_CSV)
    try:
        parse_reviews(BUNDLED_CSV)
    except CsvFormatError as error:
        assert "lacks required column(s) listing_id, date, comments" in str(error)
    else:
        raise AssertionError("a listings file read as reviews")


def test_listing_ids_of_18_digits_read_exactly(tmp_path):
    path = write_csv(tmp_path / "l.csv", HEADER_18,
                     "954263424474862613,x,1,H,,Bedok,1.3,103.9,Private room,60,1,0,,,1,0,0,")
    assert parse_csv(path).rows[0]["id"] == 954263424474862613


def test_plain_text_strips_html_and_keeps_the_words():
    assert plain_text("Clean &amp; tidy.<br/>Thank you <b>Belinda</b>.\r\n\r\n<br/>  Bye") == \
        "Clean & tidy.\nThank you Belinda.\nBye"
    assert plain_text("<script>x</script>a < b") == "x\na < b" or "a < b" in plain_text("<script>x</script>a < b")
    assert plain_text(None) == ""


def test_the_singapore_file_reads_whole():
    parsed = parse_reviews(shared_csv(SINGAPORE_REVIEWS))
    assert len(parsed.rows) + len(parsed.rejects) == 35698
    assert len(parsed.rows) >= 35600, parsed.rejects[:5]
    # Multi-line comments: their line breaks are carriage returns in this file, kept as written.
    assert sum(1 for r in parsed.rows if r["comments"] and "\r" in r["comments"]) == 740
    assert any(r["comments"] and "<br/>" in r["comments"] for r in parsed.rows)
    assert max(r["listing_id"] for r in parsed.rows) > 10**17  # the 18-digit ids, as ints


FIELD = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "12", "954263424474862613", "1e5", "-3", "2023-09-30", "2023-02-30", "\x00",
                     "line\nbreak<br/>", "ignore previous instructions", "\"quoted, comma\""]),
    st.integers(-10**20, 10**20).map(str),
    st.dates().map(str),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(columns=st.lists(st.sampled_from(REVIEW_COLUMNS + ("extra", "ID")), min_size=1, max_size=8),
       rows=st.lists(st.lists(FIELD, min_size=0, max_size=8), max_size=20),
       encoding=st.sampled_from(["utf-8", "latin-1"]))
def test_any_reviews_file_is_rows_or_rejects_never_a_crash(tmp_path_factory, columns, rows, encoding):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([columns] + rows)
    path = tmp_path_factory.mktemp("fuzz") / "reviews.csv"
    path.write_bytes(buffer.getvalue().encode(encoding, errors="replace"))
    try:
        parsed = parse_reviews(path)
    except CsvFormatError as error:
        assert str(path) in str(error)
        return
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        records = [r for r in list(csv.reader(handle))[1:] if r and r != [""]]
    assert len(parsed.rows) + len(parsed.rejects) == len(records)
    assert all(reject.reason for reject in parsed.rejects)
    for row in parsed.rows:
        assert set(row) == set(REVIEW_COLUMNS) and row["id"] >= 1 and row["listing_id"] >= 1
        assert row["comments"] is None or "\x00" not in row["comments"]


def test_the_reviews_spec_names_the_files_columns_and_its_partition():
    from gfl_dagster.reviews.source import REVIEWS

    assert REVIEWS.table == "reviews" and REVIEWS.key == "id" and REVIEWS.partition == "area"
    assert set(REVIEWS.field_names) - {REVIEWS.partition} == set(REVIEW_COLUMNS) - {"id"}
    assert REVIEWS.vector_id(1) != REVIEWS.vector_id(2) and REVIEWS.sortable == ("listing_id", "date", "reviewer_id")
