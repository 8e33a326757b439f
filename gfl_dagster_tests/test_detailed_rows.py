"""The detailed Inside Airbnb listings file: typed rows and rejects, on the real Singapore and Boston files."""

import csv
import gzip
import io

import pytest

from gfl_dagster.db.tables import LISTING_COLUMNS
from gfl_dagster.listings.bathrooms import Baths, BathsError, parse_baths
from gfl_dagster.listings.csv_rows import CsvFormatError
from gfl_dagster.listings.detailed_rows import (
    DETAILED_COLUMNS,
    is_detailed_header,
    parse_detailed_csv,
    parse_listings_file,
)
from gfl_dagster.listings.host_text import html_to_text
from gfl_dagster.listings.name_facts import parse_name_facts
from gfl_dagster_tests.conftest import BUNDLED_CSV, shared_csv

SINGAPORE = "insideairbnb_singapore_2023-09_listings.csv.gz"
SINGAPORE_SUMMARY = "insideairbnb_singapore_2023-09_summary.csv"
BOSTON = "insideairbnb_boston_2024-06_listings.csv.gz"
# The four columns Inside Airbnb's detailed files add from 2025 (79 columns).
COLUMNS_2025 = ("availability_eoy", "number_of_reviews_ly", "estimated_occupancy_l365d", "estimated_revenue_l365d")


@pytest.fixture(scope="module")
def singapore():
    return parse_listings_file(shared_csv(SINGAPORE))


@pytest.fixture(scope="module")
def boston():
    return parse_listings_file(shared_csv(BOSTON))


def _records(name: str, count: int) -> tuple[list[str], list[list[str]]]:
    with gzip.open(shared_csv(name), "rt", newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [row for _, row in zip(range(count), reader)]


def _write(path, header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_the_singapore_file_is_recognized_and_every_record_is_a_row(singapore):
    assert len(singapore.rows) == 3483 and singapore.rejects == []
    assert singapore.missing_columns == []
    assert "listing_url" in singapore.ignored_columns and "neighbourhood" in singapore.ignored_columns
    row = next(r for r in singapore.rows if r["id"] == 71609)
    assert set(row) == set(LISTING_COLUMNS) and set(DETAILED_COLUMNS) < set(LISTING_COLUMNS)
    # The places are the cleansed columns; the group is Singapore's region.
    assert {r["neighbourhood_group"] for r in singapore.rows} == {
        "Central Region", "West Region", "East Region", "North-East Region", "North Region"}
    assert "Singapore, Singapore" not in {r["neighbourhood"] for r in singapore.rows}  # the free-text column
    assert len({r["neighbourhood"] for r in singapore.rows}) == 44
    assert sum(r["review_scores_rating"] is None for r in singapore.rows) == 1565
    assert {type(r["amenities"]) for r in singapore.rows} == {list}
    assert all(r["price"] is not None and r["price"] > 0 for r in singapore.rows)


def test_a_singapore_row_carries_its_facts_typed(singapore):
    row = next(r for r in singapore.rows if r["id"] == 71609)
    assert row["name"] == "Villa in Singapore · ★4.44 · 2 bedrooms · 3 beds · 1 private bath"
    assert (row["property_type"], row["room_type"]) == ("Private room in villa", "Private room")
    assert (row["bedrooms"], row["beds"], row["baths"], row["baths_shared"]) == (2, 3, 1.0, False)
    assert row["review_scores_rating"] == 4.44 and 0 <= row["review_scores_value"] <= 5
    assert row["host_is_superhost"] in (True, False) and row["instant_bookable"] in (True, False)
    assert "Private backyard – Fully fenced" in row["amenities"] and "Wifi" in row["amenities"]


def test_boston_keeps_empty_prices_as_unknown_and_takes_the_area_from_the_neighbourhood(boston):
    assert len(boston.rows) == 4325 and boston.rejects == []
    assert sum(r["price"] is None for r in boston.rows) == 782
    # Boston leaves neighbourhood_group_cleansed empty: the area is the neighbourhood, as for a summary file.
    assert {r["neighbourhood_group"] for r in boston.rows} == {None}
    assert len({r["neighbourhood"] for r in boston.rows}) == 25
    assert "Dorchester" in {r["neighbourhood"] for r in boston.rows}
    row = next(r for r in boston.rows if r["id"] == 8789)
    assert row["price"] == 92.0 and row["accommodates"] == 2 and row["bathrooms_text"] == "1 bath"
    assert row["neighborhood_overview"].startswith("Beacon Hill is a historic neighborhood")
    # The host's HTML is text: no markup survives anywhere.
    assert not any("<br" in (r["host_description"] or "") for r in boston.rows)


def test_price_strings_with_thousands_are_read(boston):
    prices = [r["price"] for r in boston.rows if r["price"] is not None]
    assert max(prices) >= 1000  # "$1,234.00"-style prices exist in the Boston file
    assert all(p >= 0 for p in prices)


def test_empty_counts_are_filled_from_inside_airbnbs_own_name(singapore):
    # 1,488 Singapore records leave `bedrooms` empty; the 2023+ name states it for all but 3, and 18 more
    # are named "Place to stay", which is not their property type: those stay unknown.
    assert sum(r["bedrooms"] is None for r in singapore.rows) == 21
    row = next(r for r in singapore.rows if r["id"] == 71609)
    assert row["bedrooms"] == 2


def test_a_hosts_own_name_is_never_a_source_of_facts(tmp_path):
    header, rows = _records(BOSTON, 2)
    for name, property_type in (("Loft in Boston · 4 bedrooms · 3 beds", "Private room in home"),  # type disagrees
                                ("Home in Boston · 4 bedrooms · huge!", "Entire home")):  # not wholly the form
        rows[1][header.index("name")] = name
        rows[1][header.index("property_type")] = property_type
        rows[1][header.index("bedrooms")] = ""
        parsed = parse_detailed_csv(_write(tmp_path / "l.csv", header, rows))
        assert parsed.rows[1]["name"] == name and parsed.rows[1]["bedrooms"] is None
    rows[1][header.index("name")] = "Home in Boston · ★4.9 · 4 bedrooms · 3 beds · 2 baths"
    assert parse_detailed_csv(_write(tmp_path / "l.csv", header, rows)).rows[1]["bedrooms"] == 4


def test_the_summary_file_keeps_its_own_path():
    parsed = parse_listings_file(BUNDLED_CSV)
    assert len(parsed.rows) == 2176 and "amenities" not in parsed.rows[0]


def test_the_plain_csv_and_the_gzip_read_the_same(tmp_path, boston):
    plain = tmp_path / "listings.csv"
    plain.write_bytes(gzip.decompress(shared_csv(BOSTON).read_bytes()))
    assert parse_listings_file(plain).rows == boston.rows


def test_a_2025_header_of_79_columns_is_recognized(tmp_path):
    header, rows = _records(BOSTON, 20)
    header79 = header + list(COLUMNS_2025)
    assert len(header) == 75 and len(header79) == 79 and is_detailed_header(header79)
    parsed = parse_listings_file(_write(tmp_path / "l.csv", header79, [r + ["12", "3", "40", "4800"] for r in rows]))
    assert len(parsed.rows) == 20 and parsed.rejects == []
    assert set(COLUMNS_2025) <= set(parsed.ignored_columns)


@pytest.mark.parametrize("column, value, reason", [
    ("accommodates", "four", "accommodates 'four' is not a whole number"),
    ("bedrooms", "-1", "bedrooms '-1' is below 0"),
    ("review_scores_rating", "6.1", "review_scores_rating '6.1' is outside"),
    ("review_scores_cleanliness", "nan", "review_scores_cleanliness 'nan' is outside"),
    ("host_is_superhost", "yes", "host_is_superhost 'yes' is not 't' or 'f'"),
    ("instant_bookable", "maybe", "instant_bookable 'maybe'"),
    ("amenities", "[\"Wifi\", ", "amenities"),
    ("amenities", "{\"Wifi\": 1}", "is not a JSON list of strings"),
    ("amenities", "[\"Wifi\", 3]", "is not a JSON list of strings"),
    ("bathrooms_text", "plenty of baths", "bathrooms_text 'plenty of baths' is not a bath count"),
    ("price", "$-5.00", "price '$-5.00'"),
    ("neighbourhood_cleansed", "", "no area"),
])
def test_a_bad_field_rejects_its_record_with_the_reason_and_the_others_survive(tmp_path, column, value, reason):
    header, rows = _records(BOSTON, 3)
    rows[1][header.index(column)] = value
    if column == "neighbourhood_cleansed":
        rows[1][header.index("neighbourhood_group_cleansed")] = ""
    parsed = parse_detailed_csv(_write(tmp_path / "l.csv", header, rows))
    assert len(parsed.rows) == 2
    [reject] = parsed.rejects
    assert reject.listing_id == rows[1][0] and reject.line_number == 3
    assert reason in reject.reason


def test_a_file_that_is_not_listings_is_refused_by_name(tmp_path):
    path = tmp_path / "other.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    with pytest.raises(CsvFormatError, match="other.csv.gz"):
        parse_listings_file(path)


@pytest.mark.parametrize("text, baths", [
    ("1 bath", Baths(1.0, None)), ("1.5 shared baths", Baths(1.5, True)), ("1 private bath", Baths(1.0, False)),
    ("0 shared baths", Baths(0.0, True)), ("21 shared baths", Baths(21.0, True)), ("Half-bath", Baths(0.5, None)),
    ("Private half-bath", Baths(0.5, False)), ("Shared half-bath", Baths(0.5, True)), ("  2  baths ", Baths(2.0, None)),
    ("", None),
])
def test_baths_are_read_from_their_text(text, baths):
    assert parse_baths(text) == baths


@pytest.mark.parametrize("text", ["baths", "one bath", "2 half-bath", "1.5 common baths", "1 bath; 2 toilets"])
def test_a_bath_text_that_is_not_one_is_refused(text):
    with pytest.raises(BathsError, match="is not a bath count|no number|gives a count"):
        parse_baths(text)


def test_every_bath_text_of_the_real_files_is_read(singapore, boston):
    texts = {r["bathrooms_text"] for r in singapore.rows + boston.rows} - {None}
    assert len(texts) >= 39 and all(parse_baths(t) is not None for t in texts)


@pytest.mark.parametrize("html, text", [
    ("Cozy flat.<br /><br />Near the MRT &amp; shops.", "Cozy flat.\n\nNear the MRT & shops."),
    ("<b>Bold</b> and <i>plain</i>", "Bold and plain"),
    ("Hi<script>alert(1)</script> there<style>p{}</style>", "Hi there"),
    ("a\x00b\x07c", "abc"),
    ("   ", None),
    ("", None),
    ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
    ("<p>One</p><p>Two</p>", "One\n\nTwo"),
    ("Cut off here.<br", "Cut off here."),
    ("<SCRIPT", None),
    ("Hi <!--<SCRIPT>", "Hi"),
    ("I <3 it, 5 < 6", "I <3 it, 5 < 6"),
])
def test_host_html_becomes_plain_text(html, text):
    assert html_to_text(html) == text


def test_host_text_is_bounded():
    assert len(html_to_text("word " * 5000)) <= 5000


def test_every_singapore_summary_name_gives_the_facts_of_the_detailed_file(singapore):
    detailed = {r["id"]: r for r in singapore.rows}
    with open(shared_csv(SINGAPORE_SUMMARY), newline="", encoding="utf-8") as handle:
        names = {int(r["id"]): r["name"] for r in csv.DictReader(handle)}
    with gzip.open(shared_csv(SINGAPORE), "rt", newline="", encoding="utf-8") as handle:
        raw = {int(r["id"]): r for r in csv.DictReader(handle)}
    assert len(names) == 3483
    compared = {"bedrooms": 0, "beds": 0, "baths": 0, "rating": 0}
    for listing_id, name in names.items():
        facts = parse_name_facts(name)
        assert facts is not None and facts.unread == (), name
        assert facts.city  # "Singapore", "Opera Estate", ...
        row, published = detailed[listing_id], raw[listing_id]
        for fact in ("bedrooms", "beds"):  # as published, not as filled from the name
            if getattr(facts, fact) is not None and published[fact]:
                assert getattr(facts, fact) == int(published[fact]), (name, fact)
                compared[fact] += 1
        if facts.baths is not None:
            assert facts.baths == parse_baths(published["bathrooms_text"]).count, name
            compared["baths"] += 1
        if facts.rating is not None:
            assert row["review_scores_rating"] == pytest.approx(facts.rating, abs=0.005), name
            compared["rating"] += 1
        assert facts.baths_shared == row["baths_shared"], name
    assert min(compared.values()) >= 1000, compared


@pytest.mark.parametrize("name, expected", [
    ("Villa in Singapore · ★4.44 · 2 bedrooms · 3 beds · 1 private bath",
     dict(property_type="Villa", rating=4.44, bedrooms=2, beds=3, baths=1.0, baths_shared=False)),
    ("Rental unit in Singapore · ★New · Studio · 1 bed · Shared half-bath",
     dict(property_type="Rental unit", rating=None, new=True, bedrooms=0, beds=1, baths=0.5, baths_shared=True)),
    ("Condo in Singapore · 1 bedroom · 2 beds · 1 bath", dict(rating=None, new=False, bedrooms=1, baths=1.0)),
])
def test_name_facts(name, expected):
    facts = parse_name_facts(name)
    assert {key: getattr(facts, key) for key in expected} == expected


@pytest.mark.parametrize("name", ["Curved Glass Studio/1bd facing Park", "", None, "Sunny · cozy · quiet",
                                  "Loft in Brooklyn"])
def test_a_hosts_own_name_has_no_name_facts(name):
    assert parse_name_facts(name) is None


@pytest.mark.parametrize("damage", ["truncated", "not gzip"])
def test_a_damaged_gzip_is_refused_by_name(tmp_path, damage):
    data = shared_csv(BOSTON).read_bytes()
    path = tmp_path / "listings.csv.gz"
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"id,name\n1,x\n")
    with pytest.raises(CsvFormatError, match="listings.csv.gz is not a readable gzip file"):
        parse_listings_file(path)
