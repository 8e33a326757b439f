"""Scoring a query parser against the labelled parses (understanding_queries.py), and timing it.

The parser is a parameter (`parse(text, places) -> Understood`-like), so a model-based parser can
be scored on the same set later. Pure apart from `places_from_csv`/`price_bands_from_csv`, which
read a listings CSV with the csv module.
"""

from __future__ import annotations

import csv
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from gfl_dagster.bench.common import percentile
from gfl_dagster.search.eval.understanding_queries import LabelledParse
from gfl_dagster.search.understanding import Places, places_from_pairs, price_bands, understand

Parse = Callable[[str, Places], Any]  # returns an object with .filters, .sort, .limit, .text

# field name -> the filter keys it covers
FIELDS: dict[str, tuple[str, ...]] = {
    "borough": ("borough",),
    "neighbourhood": ("neighbourhood",),
    "room_type": ("room_type",),
    "price": ("min_price", "max_price"),
    "reviews": ("min_reviews", "max_reviews", "min_reviews_per_month"),
    "nights": ("min_nights", "max_nights"),
    "availability": ("min_availability",),
}


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
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def _field_values(filters: Mapping[str, Any], keys: Sequence[str]) -> tuple:
    def norm(value: Any) -> Any:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    return tuple(norm(filters.get(key)) for key in keys)


def score_one(entry: LabelledParse, parsed: Any) -> dict[str, bool]:
    """{field: correct} for one labelled entry, and "exact" (every field and the text)."""
    got = dict(parsed.filters)
    scores = {name: _field_values(got, keys) == _field_values(entry.filters, keys) for name, keys in FIELDS.items()}
    scores["sort"] = (parsed.sort or None) == entry.sort
    scores["limit"] = parsed.limit == entry.limit
    text = _fold(parsed.text)
    scores["text"] = all(_fold(words) in text for words in entry.text_contains)
    known = {key for keys in FIELDS.values() for key in keys}
    scores["other_filters"] = ({k: v for k, v in got.items() if k not in known}
                               == {k: v for k, v in entry.filters.items() if k not in known})
    scores["exact"] = all(scores.values())
    return scores


def evaluate(entries: Sequence[LabelledParse], places_by_city: Mapping[str, Places],
             parse: Parse = understand, repeat: int = 5) -> dict[str, Any]:
    """Per-field accuracy, whole-parse exact accuracy, and parse latency (p50/p95 ms over `repeat` runs).

    Entries whose city is not in `places_by_city` are skipped (counted in "skipped").
    A field's "accuracy" counts entries where neither side sets it as correct; "active_accuracy" is
    over the entries where the label or the parse sets it.
    """
    scored = [(e, places_by_city[e.city]) for e in entries if e.city in places_by_city]
    for entry, places in scored:  # warm-up: caches, regex compilation
        parse(entry.text, places)
    timings: list[float] = []
    results: list[tuple[LabelledParse, Any, dict[str, bool]]] = []
    for round_ in range(max(1, repeat)):
        for entry, places in scored:
            started = time.perf_counter()
            parsed = parse(entry.text, places)
            timings.append((time.perf_counter() - started) * 1000)
            if round_ == 0:
                results.append((entry, parsed, score_one(entry, parsed)))
    n = len(results)
    fields: dict[str, dict[str, Any]] = {}
    for name in (*FIELDS, "sort", "limit", "text"):
        correct = sum(s[name] for _, _, s in results)
        if name in FIELDS:
            active = [(e, p, s) for e, p, s in results
                      if any(e.filters.get(k) is not None or p.filters.get(k) is not None for k in FIELDS[name])]
        elif name == "text":
            active = [(e, p, s) for e, p, s in results if e.text_contains]
        else:
            active = [(e, p, s) for e, p, s in results if e.__getattribute__(name) is not None
                      or getattr(p, name) is not None]
        fields[name] = {
            "accuracy": round(correct / n, 4) if n else 0.0,
            "active": len(active),
            "active_accuracy": round(sum(s[name] for _, _, s in active) / len(active), 4) if active else 1.0,
        }
    failures = [{"text": e.text, "city": e.city, "wrong": [k for k, ok in s.items() if not ok and k != "exact"],
                 "expected": {"filters": e.filters, "sort": e.sort, "limit": e.limit, "text_contains": e.text_contains},
                 "got": {"filters": p.filters, "sort": p.sort, "limit": p.limit, "text": p.text}}
                for e, p, s in results if not s["exact"]]
    return {
        "queries": n,
        "skipped": len(entries) - n,
        "exact": round(sum(s["exact"] for _, _, s in results) / n, 4) if n else 0.0,
        "fields": fields,
        "latency_ms": {"p50": round(percentile(timings, 0.5), 4), "p95": round(percentile(timings, 0.95), 4),
                       "max": round(max(timings), 4)} if timings else {},
        "failures": failures,
    }


def main(argv: Optional[Sequence[str]] = None) -> None:  # pragma: no cover - a convenience for the README
    """python -m gfl_dagster.search.eval.understanding_eval [SHARED_DATA_DIR]: prints the scores as JSON."""
    import json
    import sys

    from gfl_dagster.search.eval.understanding_queries import PARSES

    args = list(sys.argv[1:] if argv is None else argv)
    project = Path(__file__).resolve().parents[3]
    places = {"nyc": places_from_csv(project / "data" / "AB_NYC_2023.csv")}
    if args:
        places["barcelona"] = places_from_csv(Path(args[0]) / "insideairbnb_barcelona_2021-10.csv")
    report = evaluate(PARSES, places)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":  # pragma: no cover
    main()
