"""Scoring a query parser against the labelled sets, and timing it.

`score_set`/`score_metamorphic`/`evaluate_all` score any parser (`parse(text, places) -> Understood`-like)
on the sets of understanding_sets.md, the 136 older sentences of understanding_queries.py included
(`old_dev_entries`). `gfl bench understanding` prints them.

Pure apart from the readers of listings files (`places_from_csv`, `city_places`, `price_bands_from_csv`).
"""

from __future__ import annotations

import csv
import gzip
import json
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from gfl_dagster.generation.folding import fold
from gfl_dagster.search.understanding import Places, places_from_pairs, price_bands, understand
from gfl_dagster_bench.common import percentile

Parse = Callable[[str, Places], Any]  # returns an object with .filters, .sort, .limit, .text, .notes


def places_from_csv(path: str | Path) -> Places:
    """The areas (neighbourhood_group, else neighbourhood) and neighbourhoods of a listings CSV."""
    with open(path, newline="", encoding="utf-8") as handle:
        return places_from_pairs((row.get("neighbourhood_group"), row.get("neighbourhood"))
                                 for row in csv.DictReader(handle))


def price_bands_from_csv(path: str | Path) -> dict[str, tuple[float, float]]:
    """`price_bands` (first and third quartiles of nightly prices) per area and neighbourhood, "" for all."""
    by_place: dict[str, list[float]] = {}
    everything: list[float] = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                price = float((row.get("price") or "").replace("$", "").replace(",", ""))
            except ValueError:
                continue
            group, hood = (row.get("neighbourhood_group") or "").strip(), (row.get("neighbourhood") or "").strip()
            everything.append(price)
            for place in dict.fromkeys((group or hood, hood)):
                if place:
                    by_place.setdefault(place, []).append(price)
    bands = {place: band for place, band in price_bands(by_place).items() if place}
    overall = price_bands({"all": everything}).get("all")
    if overall is not None:
        bands[""] = overall
    return bands


def _fold(text: str) -> str:
    return " ".join(fold(text).split())


# ---------------------------------------------------------------------------------------------
# The sets of understanding_sets.md (issue 21).
#
# A parse and a label are both brought to the label schema (areas, neighbourhoods, room_types ... as
# sets), then compared field by field. Places are compared by the neighbourhoods they admit in the
# city's file and room types by the room types they admit, so "Back Bay" as an area or as a
# neighbourhood is the same answer in Boston, and "no shared rooms" equals "entire, private or hotel".
# Numbers compare within 0.01.
#
# The test split is scored in aggregate only: `score_set(..., details=False)` keeps no per-sentence
# record, so nothing can print which test sentences fail (Evaluation discipline: no tuning on it).

EVAL_DIR = Path(__file__).resolve().parent
TEST_SET, DEV_SET, METAMORPHIC_SET = (EVAL_DIR / f"understanding_{name}.jsonl" for name in ("test", "dev", "metamorphic"))
ROOM_TYPES = frozenset({"Entire home/apt", "Private room", "Shared room", "Hotel room"})

# city -> (file in the shared data folder, None: the bundled New York file; area column; neighbourhood column)
CITY_FILES: dict[str, tuple[Optional[str], str, str]] = {
    "new-york": (None, "neighbourhood_group", "neighbourhood"),
    "barcelona": ("insideairbnb_barcelona_2021-10.csv", "neighbourhood_group", "neighbourhood"),
    "singapore": ("insideairbnb_singapore_2023-09_listings.csv.gz", "neighbourhood_group_cleansed",
                  "neighbourhood_cleansed"),
    "boston": ("insideairbnb_boston_2024-06_listings.csv.gz", "neighbourhood_group_cleansed", "neighbourhood_cleansed"),
}
BUNDLED_NYC = Path(__file__).resolve().parents[3] / "data" / "AB_NYC_2023.csv"

# scored field -> the label keys it covers ("places" and "room_types" are compared by what they admit)
FIELDS: dict[str, tuple[str, ...]] = {
    "places": ("areas", "not_areas", "neighbourhoods", "not_neighbourhoods"),
    "room_types": ("room_types", "not_room_types"),
    "price": ("min_price", "max_price"),
    "rating": ("min_rating",),
    "guests": ("min_guests",),
    "bedrooms": ("min_bedrooms",),
    "beds": ("min_beds",),
    "baths": ("min_baths",),
    "amenities": ("amenities",),
    "superhost": ("superhost",),
    "instant_bookable": ("instant_bookable",),
    "property_type": ("property_type",),
    "reviews": ("min_reviews", "max_reviews"),
    "nights": ("min_nights", "max_nights"),
    "availability": ("min_availability",),
    "sort": ("sort",),
    "limit": ("limit",),
}
SCHEMA_KEYS = frozenset(k for keys in FIELDS.values() for k in keys)
# the parse's single-value filters, as the schema's sets
SINGLE_TO_SET = {"borough": "areas", "neighbourhood": "neighbourhoods", "room_type": "room_types"}

def city_places(city: str, shared_dir: Optional[Path]) -> Places:
    """The places `understand()` gets for `city`: `places_from_pairs` over its file's rows."""
    name, area_column, hood_column = CITY_FILES[city]
    if name is None:
        path = BUNDLED_NYC
    elif shared_dir is None:
        raise FileNotFoundError(f"{city}: set GFL_SHARED_DATA to the folder holding {name}")
    else:
        path = Path(shared_dir) / name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as handle:
        return places_from_pairs((row.get(area_column), row.get(hood_column)) for row in csv.DictReader(handle))


def load_set(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def old_dev_entries() -> list[dict[str, Any]]:
    """The 136 older labelled sentences (understanding_queries.py) in the set format."""
    from gfl_dagster_bench.eval.search.understanding_queries import PARSES

    out = []
    for i, entry in enumerate(PARSES, 1):
        label = as_label(entry.filters, entry.sort, entry.limit)
        out.append({"id": f"old-{i:03d}", "city": "new-york" if entry.city == "nyc" else entry.city,
                    "text": entry.text, "label": label, "text_contains": list(entry.text_contains)})
    return out


def as_label(filters: Mapping[str, Any], sort: Optional[str] = None, limit: Optional[int] = None) -> dict[str, Any]:
    """A parse's filters in the label schema: single values become one-element sets."""
    label: dict[str, Any] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if key in SINGLE_TO_SET:
            label.setdefault(SINGLE_TO_SET[key], [])
            label[SINGLE_TO_SET[key]] = list(dict.fromkeys([*label[SINGLE_TO_SET[key]], value]))
        else:
            label[key] = list(value) if isinstance(value, (list, tuple, set, frozenset)) else value
    if sort:
        label["sort"] = sort
    if limit is not None:
        label["limit"] = limit
    return label


def admitted_neighbourhoods(label: Mapping[str, Any], places: Places) -> Optional[frozenset]:
    """The neighbourhoods a label's place fields admit; None when it states no place."""
    if not any(label.get(k) for k in FIELDS["places"]):
        return None
    area_of = places.area_of_neighbourhood
    admitted = set(places.neighbourhoods)
    if label.get("areas"):
        admitted &= {h for h in places.neighbourhoods if area_of.get(h, h) in set(label["areas"])}
    if label.get("neighbourhoods"):
        admitted &= set(label["neighbourhoods"])
    admitted -= {h for h in places.neighbourhoods if area_of.get(h, h) in set(label.get("not_areas") or ())}
    admitted -= set(label.get("not_neighbourhoods") or ())
    return frozenset(admitted)


def admitted_room_types(label: Mapping[str, Any]) -> Optional[frozenset]:
    if not label.get("room_types") and not label.get("not_room_types"):
        return None
    admitted = set(label.get("room_types") or ROOM_TYPES)
    return frozenset(admitted - set(label.get("not_room_types") or ()))


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) <= 0.01
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return set(a) == set(b)
    return a == b


def field_scores(expected: Mapping[str, Any], got: Mapping[str, Any], places: Places) -> dict[str, bool]:
    """{field: right} for two labels of the same sentence."""
    scores = {"places": admitted_neighbourhoods(expected, places) == admitted_neighbourhoods(got, places),
              "room_types": admitted_room_types(expected) == admitted_room_types(got)}
    for name, keys in FIELDS.items():
        if name not in scores:
            scores[name] = all(_same_value(expected.get(k), got.get(k)) for k in keys)
    scores["other"] = not (set(got) - SCHEMA_KEYS)  # a filter the schema has no field for is a wrong filter
    return scores


def score_sentence(row: Mapping[str, Any], parsed: Any, places: Places) -> dict[str, bool]:
    """Field scores plus "text" (the words that must survive) and "exact" (all of those);
    "unanswerable" (each unanswerable ask is named in a note) is reported apart, outside "exact"."""
    got = as_label(parsed.filters, parsed.sort, parsed.limit)
    scores = field_scores(row["label"], got, places)
    text = _fold(parsed.text)
    scores["text"] = all(_fold(words) in text for words in row.get("text_contains", ()))
    scores["exact"] = all(scores.values())
    notes = _fold(" ".join(parsed.notes))
    scores["unanswerable"] = all(_fold(ask.split(":", 1)[-1]) in notes for ask in row.get("unanswerable", ()))
    return scores


def _active(name: str, row: Mapping[str, Any], got: Mapping[str, Any]) -> bool:
    if name == "text":
        return bool(row.get("text_contains"))
    if name == "unanswerable":
        return bool(row.get("unanswerable"))
    if name == "other":
        return bool(set(got) - SCHEMA_KEYS)
    return any(row["label"].get(k) is not None or got.get(k) is not None for k in FIELDS[name])


def score_set(rows: Sequence[Mapping[str, Any]], places_by_city: Mapping[str, Places], parse: Parse = understand,
              details: bool = False) -> dict[str, Any]:
    """Exact-parse and per-field accuracy over `rows`; per kind too. `details`: the failing sentences
    (dev only: never ask for them on the test split)."""
    names = (*FIELDS, "other", "text", "unanswerable")
    results = []
    for row in rows:
        parsed = parse(row["text"], places_by_city[row["city"]])
        got = as_label(parsed.filters, parsed.sort, parsed.limit)
        results.append((row, parsed, got, score_sentence(row, parsed, places_by_city[row["city"]])))
    n = len(results)
    fields = {}
    for name in names:
        active = [s for row, _, got, s in results if _active(name, row, got)]
        fields[name] = {"accuracy": _share(sum(s[name] for *_, s in results), n), "active": len(active),
                        "active_accuracy": _share(sum(s[name] for s in active), len(active))}
    kinds: dict[str, list[bool]] = {}
    for row, _, _, s in results:
        for kind in row.get("kinds", ()):
            kinds.setdefault(kind, []).append(s["exact"])
    report: dict[str, Any] = {
        "sentences": n, "exact": _share(sum(s["exact"] for *_, s in results), n), "fields": fields,
        "kinds": {k: {"n": len(v), "exact": _share(sum(v), len(v))} for k, v in sorted(kinds.items())},
        "cities": {c: _share(sum(s["exact"] for r, *_, s in results if r["city"] == c),
                             sum(r["city"] == c for r, *_ in results))
                   for c in sorted({r["city"] for r in rows})},
    }
    if details:
        report["failures"] = [
            {"id": row["id"], "text": row["text"], "wrong": [k for k, ok in s.items() if not ok and k != "exact"],
             "expected": row["label"], "got": got, "text_got": parsed.text,
             **({"text_contains": row["text_contains"]} if row.get("text_contains") else {}),
             **({"unanswerable": row["unanswerable"], "notes": parsed.notes} if row.get("unanswerable") else {})}
            for row, parsed, got, s in results if not s["exact"]]
    return report


def _share(part: float, whole: int) -> float:
    return round(part / whole, 4) if whole else 1.0


def score_metamorphic(families: Sequence[Mapping[str, Any]], places_by_city: Mapping[str, Places],
                      parse: Parse = understand, details: bool = False) -> dict[str, Any]:
    """Equivalence: every member gives exactly `expect`. Direction: each member sets every field of
    `sets` and none of `unset` (a direction error)."""
    equivalence = {"families": 0, "families_passed": 0, "members": 0, "members_passed": 0}
    direction = {"members": 0, "errors": 0}
    failures = []
    for family in families:
        places = places_by_city[family["city"]]
        if family["kind"] == "equivalence":
            passed = 0
            for member in family["members"]:
                parsed = parse(member, places)
                got = as_label(parsed.filters, parsed.sort, parsed.limit)
                scores = field_scores(family["expect"], got, places)
                if all(scores.values()):
                    passed += 1
                elif details:
                    failures.append({"family": family["family"], "member": member, "expect": family["expect"],
                                     "got": got})
            equivalence["families"] += 1
            equivalence["families_passed"] += passed == len(family["members"])
            equivalence["members"] += len(family["members"])
            equivalence["members_passed"] += passed
        else:
            for member in family["members"]:
                got = as_label(parse(member, places).filters)
                wrong = [k for k in family["sets"] if got.get(k) is None] + [
                    k for k in family["unset"] if got.get(k) is not None]
                direction["members"] += 1
                if wrong:
                    direction["errors"] += 1
                    if details:
                        failures.append({"family": family["family"], "member": member, "wrong": wrong, "got": got})
    report: dict[str, Any] = {"equivalence": equivalence, "direction": direction}
    if details:
        report["failures"] = failures
    return report


def latency_ms(texts: Iterable[tuple[str, Places]], parse: Parse = understand, repeat: int = 5) -> dict[str, float]:
    """Parse time per sentence over `repeat` rounds after a warm-up round: wall-clock p50/p95/max, and
    the thread's CPU time p50/p95 (what a parse costs when the machine is not shared by others)."""
    pairs = list(texts)
    for text, places in pairs:
        parse(text, places)
    wall, cpu = [], []
    for _ in range(repeat):
        for text, places in pairs:
            started, started_cpu = time.perf_counter(), time.thread_time()
            parse(text, places)
            cpu.append((time.thread_time() - started_cpu) * 1000)
            wall.append((time.perf_counter() - started) * 1000)
    return {"p50": round(percentile(wall, 0.5), 4), "p95": round(percentile(wall, 0.95), 4),
            "max": round(max(wall), 4), "cpu_p50": round(percentile(cpu, 0.5), 4),
            "cpu_p95": round(percentile(cpu, 0.95), 4), "parses": len(wall)}


def detailed_property_types(shared_dir: Optional[Path]) -> tuple[str, ...]:
    """Every property type of the shared detailed files (Singapore, Boston); () without GFL_SHARED_DATA."""
    types: set[str] = set()
    for name, _, _ in CITY_FILES.values():
        if name and name.endswith("_listings.csv.gz") and shared_dir is not None and (Path(shared_dir) / name).exists():
            with gzip.open(Path(shared_dir) / name, "rt", newline="", encoding="utf-8") as handle:
                types |= {row["property_type"] for row in csv.DictReader(handle) if row.get("property_type")}
    return tuple(sorted(types))


def facts_applied(rows: Sequence[Mapping[str, Any]], places_by_city: Mapping[str, Places], parse: Parse,
                  property_types: Sequence[str]) -> dict[str, Any]:
    """How many of the labelled rich facts become the search's filters, as the label says, on data holding
    every fact (search/interpret.apply_facts): the parse right AND applied (an amenity mapped to its
    canonical feature, a property type to the data's property types). Aggregate only."""
    from gfl_dagster.search.interpret import FACT_NAMES, SearchContext, apply_facts
    from gfl_dagster.search.understanding_facts import amenity_feature_of, property_types_named

    asked = applied = rows_asking = rows_whole = 0
    for row in rows:
        label = row["label"]
        if not any(name in label for name in FACT_NAMES):
            continue
        places = places_by_city[row["city"]]
        context = SearchContext(places, facts=frozenset(FACT_NAMES), property_types=tuple(property_types))
        filters = apply_facts(parse(row["text"], places), context).filters
        results = []
        for name in (name for name in FACT_NAMES if name in label):
            if name == "amenities":
                results += [amenity_feature_of(a) is not None and amenity_feature_of(a) in (filters.get(name) or ())
                            for a in label[name]]
            elif name == "property_type":
                wanted = set(property_types_named(label[name], property_types))
                results.append(bool(wanted) and set(filters.get("property_types") or ()) == wanted)
            else:
                results.append(_same_value(label[name], filters.get(name)) and filters.get(name) is not None)
        rows_asking += 1
        rows_whole += all(results)
        asked += len(results)
        applied += sum(results)
    return {"rows_asking": rows_asking, "facts_asked": asked, "facts_applied": applied,
            "share_applied": _share(applied, asked), "rows_with_every_fact_applied": _share(rows_whole, rows_asking)}


def evaluate_all(shared_dir: Optional[Path], parse: Parse = understand, details: bool = False,
                 splits: Sequence[str] = ("dev", "old_dev", "test", "metamorphic"), repeat: int = 5) -> dict[str, Any]:
    """The whole report: dev (new), old dev (136), test (aggregate only), metamorphic, latency."""
    places = {city: city_places(city, shared_dir) for city in CITY_FILES}
    sets = {"dev": load_set(DEV_SET), "old_dev": old_dev_entries(), "test": load_set(TEST_SET)}
    report: dict[str, Any] = {}
    for split in ("dev", "old_dev", "test"):
        if split in splits:
            report[split] = score_set(sets[split], places, parse, details=details and split != "test")
            report[split]["facts_applied"] = facts_applied(sets[split], places, parse,
                                                           detailed_property_types(shared_dir))
    if "metamorphic" in splits:
        report["metamorphic"] = score_metamorphic(load_set(METAMORPHIC_SET), places, parse, details=details)
    rows = [row for split in ("dev", "old_dev", "test") if split in splits for row in sets[split]]
    if repeat:
        report["latency_ms"] = latency_ms(((row["text"], places[row["city"]]) for row in rows), parse, repeat)
    return report
