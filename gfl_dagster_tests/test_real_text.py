"""The frozen real-text grounding material: host sentences, seeded mutations, dev/test split, labelling pool."""

import collections
import hashlib
import json
import math
import re

import pytest

from gfl_dagster.generation.folding import fold
from gfl_dagster_bench.eval.listings import real_text
from gfl_dagster_bench.eval.listings.real_text import (
    KINDS,
    SPLITS,
    build,
    check_rejects,
    description_check,
    names_injected_claim,
    recall_on_mutations,
    draw_labelling_sample,
    load_cities,
    load_vocabulary,
    split_of,
    split_sentences,
)
from gfl_dagster_tests.conftest import PROJECT_DIR, SHARED_DATA_SETTING, shared_csv

FILES = [f"real_text_{what}_{split}.jsonl" for what in ("mutations", "sentences") for split in SPLITS]


def _entries(name):
    return [json.loads(line) for line in (real_text.HERE / name).read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def cities():
    shared_csv(load_vocabulary()["cities"]["boston"]["file"])  # skips without GFL_SHARED_DATA
    return load_cities(shared_csv("README.md").parent, load_vocabulary())


@pytest.fixture(scope="module")
def mutations():
    return [m for split in SPLITS for m in _entries(f"real_text_mutations_{split}.jsonl")]


def test_benchmarks_md_records_the_sha256_of_each_frozen_file():
    section = (PROJECT_DIR / "BENCHMARKS.md").read_text(encoding="utf-8").split(
        "Grounding on real text: frozen sets", 1)[1]
    for name in FILES:
        digest = hashlib.sha256((real_text.HERE / name).read_bytes()).hexdigest()
        assert f"{name}` `{digest}`" in section, f"{name}: sha256 {digest} is not the one BENCHMARKS.md records"
    assert sum((real_text.HERE / name).stat().st_size for name in FILES) < 1_100_000


def test_the_frozen_mutations_cover_every_kind_in_both_splits(mutations):
    assert len(mutations) >= 600
    counts = collections.Counter((m["split"], m["kind"]) for m in mutations)
    assert {kind for _, kind in counts} == set(KINDS) and len(KINDS) >= 8
    assert min(counts[(split, kind)] for split in SPLITS for kind in KINDS) >= 25
    assert len({m["id"] for m in mutations}) == len(mutations)
    for m in mutations:
        assert m["split"] == split_of(m["listing_id"])
        assert m["mutated"].startswith(m["original"].rstrip(" .!;:,")) and m["mutated"].endswith(m["claim"])
        assert len(m["mutated"]) > len(m["original"]) and m["facts"] and m["why"]


def test_no_listing_is_in_both_splits(mutations):
    by_listing = collections.defaultdict(set)
    for split in SPLITS:
        for entry in _entries(f"real_text_mutations_{split}.jsonl") + _entries(f"real_text_sentences_{split}.jsonl"):
            by_listing[entry["listing_id"]].add(split)
    assert all(len(splits) == 1 for splits in by_listing.values())
    assert 0.4 < sum(split_of(i) == "test" for i in by_listing) / len(by_listing) < 0.6


# What a listing that has the amenity would list (Airbnb's own words), per injected amenity.
AMENITY_WORDS = {"hot tub": "hot tub", "dishwasher": "dishwasher", "washing machine": "washer",
                 "tumble dryer": "dryer", "private gym": "gym", "wood-burning fireplace": "fireplace",
                 "EV charger": "ev charger", "barbecue grill": "grill", "elevator": "elevator",
                 "free parking space": "parking", "baby crib": "crib", "dedicated workspace": "workspace",
                 "bathtub": "bathtub", "sauna": "sauna"}


def _km(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 12742.0 * math.asin(math.sqrt(h))


def test_each_mutation_states_what_its_listings_own_facts_contradict(cities, mutations):
    vocabulary = load_vocabulary()
    rows = {(city, l.id): l for city, members in cities.items() for l in members}
    for m in mutations:
        listing = rows[(m["city"], m["listing_id"])]
        row, claim = listing.row, m["claim"]
        assert m["original"] in [s.text for s in listing.sentences]  # a real host sentence, as split
        number = [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", claim)]
        kind = m["kind"]
        if kind == "more_bedrooms":
            assert number[0] > row["bedrooms"] == m["facts"]["bedrooms"]
        elif kind == "more_guests":
            assert number[0] > row["accommodates"] == m["facts"]["accommodates"]
        elif kind == "higher_rating":
            assert number[0] > row["review_scores_rating"] == m["facts"]["review_scores_rating"]
        elif kind == "other_price":
            assert abs(number[0] - row["price"]) >= 0.25 * row["price"]
        elif kind == "landmark_distance":
            where = vocabulary["cities"][m["city"]]["landmarks"][m["key"]]
            assert _km((row["latitude"], row["longitude"]), where) >= 3.0 and m["key"].lower() in claim.lower()
        elif kind == "other_neighbourhood":
            assert m["key"] != row["neighbourhood"] and m["key"] in claim
        elif kind == "superhost":
            assert row["host_is_superhost"] is False
        elif kind in ("pool", "view", "amenity_absent"):
            word = {"pool": "pool", "view": "view"}.get(kind) or AMENITY_WORDS[m["key"]]
            assert not any(word in fold(a) for a in row["amenities"]), (m["id"], word)


def test_the_generator_reproduces_the_committed_bytes(cities, tmp_path):
    files = build(shared_csv("README.md").parent, tmp_path, cities)
    assert sorted(files) == sorted(FILES)
    for name, content in files.items():
        assert content == (real_text.HERE / name).read_bytes(), f"{name} no longer reproduces"


def test_the_labelling_sample_walks_the_frozen_test_pool(cities):
    pool = _entries("real_text_sentences_test.jsonl")
    assert len(pool) == 1000 and all(e["split"] == "test" for e in pool)
    rejected, passed = draw_labelling_sample(pool, check_rejects(cities))
    assert len(rejected) == len(passed) == 100 and not {e["id"] for e in rejected} & {e["id"] for e in passed}
    order = {e["id"]: i for i, e in enumerate(pool)}
    assert [order[e["id"]] for e in rejected] == sorted(order[e["id"]] for e in rejected)


@pytest.mark.parametrize("problem, claim, named", [
    ('claims "rooftop pool" (amenity: pool) but the listing does not say so', "and there is a rooftop pool.", True),
    ('claims "pool" (amenity) but the listing does not say so', "Guests have access to a hot tub.", False),
    ("mentions $1234.5 but the price is $336", "at only $1,234.50 per night.", True),
    ("mentions $336 but the price is $300", "at only $1,234.50 per night.", False),
    ("places the listing in Charlestown but it is in Fenway", "You will be staying in Charlestown.", True),
    ("contains markup", "You will be staying in Charlestown.", False),
    ('claims "" (place) but the listing does not name it', "anything", False),
])
def test_a_problem_counts_only_when_it_points_at_the_injected_words(problem, claim, named):
    assert names_injected_claim(problem, claim) is named


def test_recall_on_the_dev_mutations_can_fail(cities):
    mutations = _entries("real_text_mutations_dev.jsonl")
    today = recall_on_mutations(mutations, description_check(cities))
    silent = recall_on_mutations(mutations, lambda sentence, entry: [])
    rejects_all = recall_on_mutations(mutations, lambda sentence, entry: [f"too long ({len(sentence)} characters)"])
    oracle = recall_on_mutations(mutations, lambda sentence, entry: [
        f'claims "{entry["claim"]}" (oracle) but the listing does not say so'] if sentence == entry["mutated"] else [])
    assert silent["recall"] == 0 and rejects_all["recall"] == 0  # rejecting is not catching
    assert oracle["recall"] == 1.0
    assert 0 < today["recall"] <= 1 and today["caught"] + len(today["missed"]) == len(mutations) == 405
    assert sum(k["mutations"] for k in today["by_kind"].values()) == 405


def test_a_pool_too_small_for_the_sample_is_said_so():
    pool = [{"id": str(i), "sentence": "x"} for i in range(150)]
    with pytest.raises(ValueError, match="150 sentences has only 0 the check rejects and 150 it passes"):
        draw_labelling_sample(pool, lambda entry: False)
    rejected, passed = draw_labelling_sample(pool, lambda entry: int(entry["id"]) % 3 == 0, per_class=50)
    assert [e["id"] for e in rejected][:3] == ["0", "3", "6"] and [e["id"] for e in passed][:3] == ["1", "2", "4"]


@pytest.mark.parametrize("text, sentences", [
    ("Cozy flat. Near the MRT.\nGreat for 2 guests!", ["Cozy flat.", "Near the MRT.", "Great for 2 guests!"]),
    ("Dr. Tan lives upstairs. Call him.", ["Dr. Tan lives upstairs.", "Call him."]),
    ("", []),
    (None, []),
])
def test_host_text_is_split_into_sentences(text, sentences):
    assert split_sentences(text) == sentences


def test_the_split_is_a_fixed_function_of_the_listing_id():
    # Frozen with the sets: changing the salt or the hash would move listings between dev and test.
    assert [split_of(i) for i in (71609, 8789, 500570837329286954, 1, 2, 3)] == [
        "dev", "dev", "dev", "test", "test", "dev"]
    assert {split_of(i) for i in range(1000)} == set(SPLITS)
    assert abs(sum(split_of(i) == "test" for i in range(10_000)) - 5000) < 200


LABEL_FILES = [f"real_text_labels_{split}.jsonl" for split in SPLITS]


def test_the_hand_labels_are_frozen_with_their_sha256_and_reasons():
    section = (PROJECT_DIR / "BENCHMARKS.md").read_text(encoding="utf-8").split(
        "Grounding on real text: hand labels, frozen before tuning", 1)[1]
    for split, name in zip(SPLITS, LABEL_FILES):
        digest = hashlib.sha256((real_text.HERE / name).read_bytes()).hexdigest()
        assert f"{name}` `{digest}`" in section, f"{name}: sha256 {digest} is not the one BENCHMARKS.md records"
        entries = _entries(name)
        pool = {e["id"] for e in _entries(f"real_text_sentences_{split}.jsonl")}
        assert len(entries) == 100 and {e["id"] for e in entries} <= pool
        assert collections.Counter(e["check_at_freeze"] for e in entries) == {"rejected": 50, "passed": 50}
        assert all(e["label"] in real_text.LABELS and len(e["reason"]) > 10 for e in entries)


def test_false_rates_weigh_each_freeze_stratum_back_to_the_pool():
    def entry(i, verdict, label):
        return {"id": str(i), "sentence": str(i), "check_at_freeze": verdict, "pool_rejected_at_freeze": 750,
                "pool_size": 1000, "label": label, "reason": "a reason of some length"}
    # Rejected stratum (weight 0.75): 1 supported, 1 unsupported; passed stratum (0.25): 2 supported.
    entries = [entry(0, "rejected", "supported"), entry(1, "rejected", "unsupported"),
               entry(2, "passed", "supported"), entry(3, "passed", "supported")]
    frozen = real_text.false_rates(entries, lambda s, e: ["x"] if e["check_at_freeze"] == "rejected" else [])
    assert frozen["supported_rejected"] == 1 and frozen["supported"] == 3
    assert frozen["false_rejection"] == pytest.approx(0.375 / 0.625) and frozen["false_acceptance"] == 0
    perfect = real_text.false_rates(entries, lambda s, e: ["x"] if e["label"] == "unsupported" else [])
    assert perfect["false_rejection"] == perfect["false_acceptance"] == 0 and not perfect["wrong"]
    with pytest.raises(ValueError, match="lack a label"):
        real_text.false_rates([{**entries[0], "label": None}], lambda s, e: [])


def test_bench_grounding_says_when_the_real_text_cannot_be_measured(monkeypatch):
    from click.testing import CliRunner

    from gfl_dagster_bench.cli import bench

    monkeypatch.delenv(SHARED_DATA_SETTING, raising=False)
    result = CliRunner().invoke(bench, ["grounding", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output[result.output.index("{"):])
    assert "set GFL_SHARED_DATA" in figures["real_text"] and figures["recall"] > 0.9


def test_the_real_text_figures_of_todays_check(cities):
    """What `gfl bench grounding` prints, on today's check: goal on test, recall >= 0.95, false rejection <= 5%."""
    figures = real_text.evaluate(shared_csv("README.md").parent, cities=cities)
    for split in SPLITS:
        assert figures[split]["recall"]["mutations"] == len(_entries(f"real_text_mutations_{split}.jsonl"))
        assert figures[split]["labels"]["sentences"] == 100 and figures[split]["pool"] == 1000
    assert figures["test"]["recall"]["recall"] >= 0.95 and figures["test"]["labels"]["false_rejection"] <= 0.05
