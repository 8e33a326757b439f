"""The query-understanding label sets (gfl_dagster_bench/eval/search/understanding_sets.md): frozen, well-formed, apart.

The test set and the metamorphic families are frozen before the parser fixes: their sha256 must be
the one BENCHMARKS.md records, so a label changed to fit a parse fails here.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from pathlib import Path

import pytest

from gfl_dagster_bench.eval.search.understanding_queries import PARSES
from gfl_dagster_tests.conftest import BUNDLED_CSV, PROJECT_DIR, shared_csv

EVAL = PROJECT_DIR / "gfl_dagster_bench" / "eval" / "search"
TEST, DEV, METAMORPHIC = (EVAL / f"understanding_{name}.jsonl" for name in ("test", "dev", "metamorphic"))
FROZEN = (TEST, METAMORPHIC)

LABEL_FIELDS = {
    "areas", "not_areas", "neighbourhoods", "not_neighbourhoods", "room_types", "not_room_types",
    "min_price", "max_price", "min_rating", "min_guests", "min_bedrooms", "min_beds", "min_baths", "amenities",
    "superhost", "instant_bookable", "property_type", "min_reviews", "max_reviews", "min_nights", "max_nights",
    "min_availability", "sort", "limit",
}
ROOM_TYPES = {"Entire home/apt", "Private room", "Shared room", "Hotel room"}
# (file, area column, neighbourhood column) per city: the places a scorer gives understand()
CITY_FILES = {
    "new-york": (None, "neighbourhood_group", "neighbourhood"),
    "barcelona": ("insideairbnb_barcelona_2021-10.csv", "neighbourhood_group", "neighbourhood"),
    "singapore": ("insideairbnb_singapore_2023-09_listings.csv.gz", "neighbourhood_group_cleansed",
                  "neighbourhood_cleansed"),
    "boston": ("insideairbnb_boston_2024-06_listings.csv.gz", "neighbourhood_group_cleansed", "neighbourhood_cleansed"),
}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _labelled(path: Path) -> list[tuple[str, str, dict]]:
    """(where, city, label) of every sentence, and of every equivalence family's expectation."""
    if path == METAMORPHIC:
        return [(row["family"], row["city"], row["expect"]) for row in _lines(path) if row["kind"] == "equivalence"]
    return [(row["id"], row["city"], row["label"]) for row in _lines(path)]


def _places(city: str) -> tuple[set[str], set[str]]:
    name, area_column, neighbourhood_column = CITY_FILES[city]
    path = BUNDLED_CSV if name is None else shared_csv(name)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as handle:
        pairs = [(row[area_column], row[neighbourhood_column]) for row in csv.DictReader(handle)]
    return {area or hood for area, hood in pairs}, {hood for _, hood in pairs}


@pytest.mark.parametrize("path", FROZEN, ids=lambda p: p.name)
def test_frozen_files_match_the_sha256_in_benchmarks(path):
    recorded = re.search(rf"{re.escape(path.name)}`[^\n]*?`([0-9a-f]{{64}})`",
                         (PROJECT_DIR / "BENCHMARKS.md").read_text(encoding="utf-8"))
    assert recorded, f"BENCHMARKS.md records no sha256 for {path.name}"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded.group(1), f"{path.name} changed after it was frozen"


@pytest.mark.parametrize("path", (TEST, DEV, METAMORPHIC), ids=lambda p: p.name)
def test_labels_use_only_the_schema(path):
    for where, city, label in _labelled(path):
        assert city in CITY_FILES, where
        assert set(label) <= LABEL_FIELDS, (where, set(label) - LABEL_FIELDS)
        for key in ("room_types", "not_room_types"):
            assert set(label.get(key, ())) <= ROOM_TYPES, where
        for key in ("min_price", "max_price"):
            assert isinstance(label.get(key, 0), (int, float)) and label.get(key, 0) >= 0, where
        if "min_price" in label and "max_price" in label:
            assert label["min_price"] <= label["max_price"], where
        assert 0 <= label.get("min_rating", 0) <= 5, where


@pytest.mark.parametrize("city", sorted(CITY_FILES))
def test_every_labelled_place_is_in_its_city_file(city):
    areas, neighbourhoods = _places(city)
    for path in (TEST, DEV, METAMORPHIC):
        for where, label_city, label in _labelled(path):
            if label_city != city:
                continue
            assert set(label.get("areas", ())) | set(label.get("not_areas", ())) <= areas, where
            assert set(label.get("neighbourhoods", ())) | set(label.get("not_neighbourhoods", ())) <= neighbourhoods, where


def test_the_test_set_is_held_out_and_varied():
    test = _lines(TEST)
    elsewhere = {row["text"].casefold() for row in _lines(DEV)} | {entry.text.casefold() for entry in PARSES} | {
        member.casefold() for family in _lines(METAMORPHIC) for member in family["members"]}
    assert not [row["id"] for row in test if row["text"].casefold() in elsewhere]
    assert len({row["text"].casefold() for row in test}) == len(test) >= 150
    assert sum(row["city"] != "new-york" for row in test) >= 0.25 * len(test)
    families = _lines(METAMORPHIC)
    assert sum(family["kind"] == "equivalence" for family in families) >= 30
    assert {family["family"] for family in families} >= {"direction-upper", "direction-lower"}
