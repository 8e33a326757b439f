"""How well the grounding check does on a hand-labelled set of generated texts.

Each entry of the set (grounding_labelled.jsonl beside this file) is a
listing (CSV columns), a text written about it (by SmolLM2 at two temperatures,
by hand, or by the template) and labels written by hand: the claims it invents
(`unsupported`, in the words of the claim vocabulary) and whether it is debris.

    gfl bench grounding [--details] [--json]    (gfl_dagster_bench/cli.py)

A hand-marked claim counts as caught when one reason from `unsupported_claims`
names it: every word of the label (case, accents and plural endings aside)
appears in the claim that reason quotes or in its key ('claims "balconies"
(amenity: balcony)'), not merely in its category or in where the listing is.
"""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from gfl_dagster.generation import grounding
from gfl_dagster.generation.folding import fold
from gfl_dagster.generation.grounding import unsupported_claims
from gfl_dagster.listings.description_check import check_description, listing_support
from gfl_dagster_bench.common import percentile

LABELLED = Path(__file__).resolve().parent / "grounding_labelled.jsonl"


def load_entries(path: Path | str = LABELLED) -> list[dict[str, Any]]:
    """The labelled texts; each listing with the area Postgres would derive for it (gfl_area)."""
    with open(path, encoding="utf-8") as handle:
        entries = [json.loads(line) for line in handle if line.strip()]
    for entry in entries:
        listing = entry["listing"]
        listing.setdefault("area", (listing.get("neighbourhood_group") or listing.get("neighbourhood") or "").strip())
    return entries


def known_places_from_csv(path: Path | str) -> tuple[str, ...]:
    """Every neighbourhood and neighbourhood group of an Inside Airbnb CSV."""
    places: set[str] = set()
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            for column in ("neighbourhood", "neighbourhood_group"):
                value = (row.get(column) or "").strip()
                if value:
                    places.add(value)
    return tuple(sorted(places))


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _words(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"[a-z0-9]+", fold(text))}


_REASON = re.compile(r'claims "(?P<surface>.*?)" \((?P<category>[^:)]*)(?:: (?P<key>[^)]*))?\)')


def claim_caught(label: str, reasons: Iterable[str]) -> bool:
    """Does one reason name the claim? Its quoted words or its key, not its category or where the listing is."""
    wanted = _words(label)
    for reason in reasons:
        m = _REASON.match(reason)
        named = f"{m.group('surface')} {m.group('key') or ''}" if m else reason
        if wanted and wanted <= _words(named):
            return True
    return False


def evaluate(entries: Sequence[Mapping[str, Any]], known_places: Sequence[str] = ()) -> dict[str, Any]:
    """Recall on hand-marked invented claims, false rejections of faithful texts, debris caught, latency.

    A text counts as rejected when the whole description check (`check_description`:
    contradictions, debris, unsupported claims) finds a problem, as it does before a
    description is stored. Latency is per text, that whole check, with the
    per-listing support index built afresh (as for a listing seen for the first
    time); also for the texts of at most 600 characters (a description's length).
    """
    known = tuple(known_places)
    areas = sorted({entry["listing"]["area"] for entry in entries})
    invented = caught = 0
    faithful = falsely_rejected = 0
    debris_texts = debris_caught = 0
    latencies: list[float] = []
    short_latencies: list[float] = []  # texts of at most 600 characters
    missed: list[dict[str, Any]] = []
    false_rejections: list[dict[str, Any]] = []
    by_source: dict[str, dict[str, int]] = {}
    for entry in entries:
        listing = entry["listing"]
        text = entry["text"]
        grounding._index.cache_clear()
        started = time.perf_counter()
        problems = check_description(text, listing, areas, known)
        latencies.append((time.perf_counter() - started) * 1000)
        reasons = unsupported_claims(text, listing_support(listing, known))  # which claims it names
        debris = [problem for problem in problems if problem not in reasons]
        if len(text) <= 600:
            short_latencies.append(latencies[-1])

        stats = by_source.setdefault(entry.get("source", "?"), {"texts": 0, "invented_claims": 0, "caught": 0,
                                                                 "rejected": 0})
        stats["texts"] += 1
        stats["rejected"] += bool(problems)
        labels = list(entry.get("unsupported") or [])
        invented += len(labels)
        stats["invented_claims"] += len(labels)
        for label in labels:
            if claim_caught(label, reasons):
                caught += 1
                stats["caught"] += 1
            else:
                missed.append({"id": listing.get("id"), "source": entry.get("source"), "claim": label,
                               "reasons": reasons})
        if entry.get("debris"):
            debris_texts += 1
            debris_caught += bool(debris)
        if not labels and not entry.get("debris"):
            faithful += 1
            if problems:
                falsely_rejected += 1
                false_rejections.append({"id": listing.get("id"), "source": entry.get("source"), "text": text,
                                         "reasons": problems})
    return {
        "texts": len(entries),
        "invented_claims": invented,
        "caught": caught,
        "recall": caught / invented if invented else 1.0,
        "faithful_texts": faithful,
        "falsely_rejected": falsely_rejected,
        "false_rejection_rate": falsely_rejected / faithful if faithful else 0.0,
        "debris_texts": debris_texts,
        "debris_caught": debris_caught,
        "debris_recall": debris_caught / debris_texts if debris_texts else 1.0,
        "p95_latency_ms": percentile(latencies, 0.95),
        "p95_latency_ms_600_chars": percentile(short_latencies, 0.95),
        "max_latency_ms": max(latencies, default=0.0),
        "by_source": by_source,
        "missed": missed,
        "false_rejections": false_rejections,
    }
