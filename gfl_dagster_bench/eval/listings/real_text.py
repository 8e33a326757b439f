"""Frozen material for measuring the grounding check on real text nobody here wrote (issue 20).

The hosts' own descriptions (`description`, `neighborhood_overview`) in the
Singapore 2023 and Boston 2024 detailed files, HTML stripped
(listings/host_text.py), split into sentences (pysbd, rule-based and
deterministic). From them, seeded:

- mutations: one invented claim injected into one real host sentence, of ten
  kinds (an amenity the listing lacks, more bedrooms, more guests, a rating above
  its own, a walk to a landmark 3 km or more away, a view, a pool, another
  neighbourhood of the city, another price, Superhost). Each records its listing,
  kind, original and mutated sentence, the claim and its key words, and the
  listing's facts that contradict it. `recall_on_mutations`: how many the check
  catches, counting only a problem that points at the injected words.
- sentence pools: host sentences as written, in a seeded order, from which the
  hand-labelled sample is drawn (`draw_labelling_sample`: walk the order, keep the
  first 100 the check rejects and the first 100 it passes), whatever the check is
  by then.

Listings are split into dev and test by a hash of the listing id, so no listing
is in both. What the generator injects is data (real_text_vocabulary.toml).

    python -m gfl_dagster_bench.eval.listings.real_text [--data FOLDER] [--out FOLDER] [--verify]
    python -m gfl_dagster_bench.eval.listings.real_text --draw test --draw-out labelling.jsonl

writes real_text_{mutations,sentences}_{dev,test}.jsonl beside this file (or in
--out) and prints the counts and sha256 values; --verify regenerates into a
temporary folder and fails unless the bytes equal the committed files; --draw
writes the 200 sentences to hand-label with today's check. The
committed files are the frozen truth (sha256 in BENCHMARKS.md); this script
only shows how they were made.

The hand labels (real_text_labels_{dev,test}.jsonl, the guide in
real_text_labels.md) were drawn by --draw-labels: 50 sentences the check
rejected and 50 it passed at freeze time from each split's pool, each labelled
by hand against the listing's structured facts with a one-line reason.
`evaluate` (what `gfl bench grounding` prints) measures today's check on all of
them: recall on the mutations, false rejection and acceptance on the labels.
"""

from __future__ import annotations

import argparse
import collections
import functools
import hashlib
import json
import os
import random
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import pysbd

from gfl_dagster.generation.folding import fold
from gfl_dagster.listings.detailed_rows import HOST_TEXTS, parse_detailed_csv
from gfl_dagster.recommendations.ranking import km_between
from gfl_dagster.toml_reader import tomllib

HERE = Path(__file__).resolve().parent
VOCABULARY = HERE / "real_text_vocabulary.toml"
SEED = 20
SPLIT_SALT = "gfl-real-text-v1"
SPLITS = ("dev", "test")
KINDS = ("amenity_absent", "more_bedrooms", "more_guests", "higher_rating", "landmark_distance", "view", "pool",
         "other_neighbourhood", "other_price", "superhost")
PER_KIND_PER_CITY = 40
POOL_SIZE = 1000
MIN_LANDMARK_KM = 3.0
# The host's texts: the table's column -> the detailed file's name for it, which the frozen sets record as `field`.
HOST_FIELDS = HOST_TEXTS

_SEGMENTER = pysbd.Segmenter(language="en", clean=False)
_URLISH = re.compile(r"https?://|www\.|@|\.com\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_SENTENCE_END = (".", "!", "?", '."', ".'", ".)", "!)", '!"')


def split_of(listing_id: int) -> str:
    """dev or test, from a hash of the listing id: stable, about half each, the same listing always on one side."""
    digest = hashlib.sha256(f"{SPLIT_SALT}:{listing_id}".encode()).digest()
    return "test" if digest[0] % 2 == 0 else "dev"


def split_sentences(text: str | None) -> list[str]:
    """A host text (already plain) as sentences: each line apart (hosts break lines between thoughts), then pysbd."""
    sentences = []
    for line in (text or "").split("\n"):
        if line.strip():
            sentences.extend(_line_sentences(line))
    return sentences


@functools.lru_cache(maxsize=None)
def _line_sentences(line: str) -> tuple[str, ...]:
    """pysbd's sentences of one line, once per line: hosts with several listings repeat their text (Singapore's
    40,168 lines are 13,633 different ones), and pysbd spends most of the sets' build compiling its patterns."""
    return tuple(" ".join(s.split()) for s in _SEGMENTER.segment(line) if s.strip())


def is_english_prose(sentence: str) -> bool:
    """A whole English sentence a claim can follow: 6 to 45 words ending as a sentence ends (Inside Airbnb cuts
    long descriptions mid-sentence), letters mostly ASCII, no link, no shouting."""
    words = _WORD.findall(sentence)
    letters = [c for c in sentence if c.isalpha()]
    return (6 <= len(words) <= 45 and len(sentence) <= 300 and bool(letters)
            and sum(c.isascii() for c in letters) >= 0.95 * len(letters)
            and sum(c.isupper() for c in letters) <= 0.3 * len(letters)
            and not _URLISH.search(sentence) and sentence[0].isalnum() and sentence.endswith(_SENTENCE_END))


@dataclass(frozen=True)
class HostSentence:
    field: str
    index: int
    text: str


@dataclass(frozen=True)
class HostListing:
    city: str
    row: Mapping[str, Any]
    sentences: tuple[HostSentence, ...]  # every sentence of the host's texts
    own_words: str  # name, host texts and amenity strings, folded: what may already state a claim

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def prose(self) -> list[HostSentence]:
        return [s for s in self.sentences if is_english_prose(s.text)]


def load_vocabulary(path: Path = VOCABULARY) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def load_city(city: str, path: Path) -> list[HostListing]:
    parsed = parse_detailed_csv(path)
    if parsed.rejects:
        raise SystemExit(f"{path}: {len(parsed.rejects)} rejected records, e.g. {parsed.rejects[0].reason}")
    listings = []
    for row in parsed.rows:
        sentences = tuple(HostSentence(field, index, text) for column, field in HOST_FIELDS.items()
                          for index, text in enumerate(split_sentences(row[column])))
        own = " \n ".join([row["name"] or "", *(row[c] or "" for c in HOST_FIELDS), *row["amenities"]])
        listings.append(HostListing(city, row, sentences, fold(own)))
    return listings


def _with_article(noun: str) -> str:
    return ("an " if noun[0].lower() in "aeiou" else "a ") + noun


def _absent(listing: HostListing, patterns: Iterable[str]) -> bool:
    return not any(re.search(p, listing.own_words, re.IGNORECASE) for p in patterns)


def _mentions(listing: HostListing, name: str) -> bool:
    return re.search(rf"\b{re.escape(fold(name))}\b", listing.own_words) is not None


@dataclass
class _Context:
    city: str
    vocabulary: Mapping[str, Any]
    places: Sequence[str]
    rng: random.Random


# Each maker: (listing, context) -> (fields for the template, key words, contradicting facts, why) or None.
Made = tuple[dict[str, Any], str, dict[str, Any], str]


def _amenity_absent(listing: HostListing, ctx: _Context) -> Made | None:
    if len(listing.row["amenities"]) < 5:  # too short a list to say what the listing lacks
        return None
    lacking = [name for name, patterns in ctx.vocabulary["amenities"].items() if _absent(listing, patterns)]
    if not lacking:
        return None
    amenity = ctx.rng.choice(lacking)
    listed = len(listing.row["amenities"])
    return ({"amenity": amenity, "a_amenity": _with_article(amenity)}, amenity,
            {"amenities_listed": listed, "amenity": amenity, "has_amenity": False},
            f"none of its {listed} amenities, nor its name or text, mentions {_with_article(amenity)}")


def _more_bedrooms(listing: HostListing, ctx: _Context) -> Made | None:
    bedrooms = listing.row["bedrooms"]
    if bedrooms is None:
        return None
    claimed = max(2, bedrooms + ctx.rng.choice((1, 1, 2)))
    return ({"n": claimed}, f"{claimed} bedrooms", {"bedrooms": bedrooms}, f"it has {bedrooms} bedrooms")


def _more_guests(listing: HostListing, ctx: _Context) -> Made | None:
    guests = listing.row["accommodates"]
    if guests is None:
        return None
    claimed = max(2, guests + ctx.rng.choice((1, 2, 3)))
    return ({"n": claimed}, f"{claimed} guests", {"accommodates": guests}, f"it accommodates {guests}")


def _higher_rating(listing: HostListing, ctx: _Context) -> Made | None:
    rating = listing.row["review_scores_rating"]
    if rating is None or not 3.0 <= rating <= 4.8:
        return None
    above = [tenths / 10 for tenths in range(31, 51) if tenths / 10 >= rating + 0.15]
    claimed = f"{ctx.rng.choice(above):.1f}"
    return ({"rating": claimed}, claimed, {"review_scores_rating": rating}, f"its rating is {rating}")


def _landmark_distance(listing: HostListing, ctx: _Context) -> Made | None:
    here = (listing.row["latitude"], listing.row["longitude"])
    far = [(name, km_between(here, where)) for name, where in ctx.vocabulary["cities"][ctx.city]["landmarks"].items()
           if not _mentions(listing, name.removeprefix("the "))]
    far = [(name, km) for name, km in far if km >= MIN_LANDMARK_KM]
    if not far:
        return None
    landmark, km = ctx.rng.choice(far)
    minutes = ctx.rng.choice((2, 3, 5, 7, 10))
    return ({"landmark": landmark, "Landmark": landmark[0].upper() + landmark[1:], "minutes": minutes},
            landmark, {"latitude": here[0], "longitude": here[1], "landmark_km": round(km, 1)},
            f"{landmark} is {km:.1f} km from the listing")


def _view(listing: HostListing, ctx: _Context) -> Made | None:
    if not _absent(listing, ctx.vocabulary["view"]["absent"]):
        return None
    view = ctx.rng.choice(ctx.vocabulary["cities"][ctx.city]["views"])
    return ({"view": view}, "view", {"has_view": False}, "no amenity, nor its name or text, mentions a view")


def _pool(listing: HostListing, ctx: _Context) -> Made | None:
    if not _absent(listing, ctx.vocabulary["pools"]["absent"]):
        return None
    pool = ctx.rng.choice(ctx.vocabulary["pools"]["names"])
    return ({"pool": pool, "a_pool": _with_article(pool)}, "pool", {"has_pool": False}, "no amenity, nor its name or text, mentions a pool")


def _other_neighbourhood(listing: HostListing, ctx: _Context) -> Made | None:
    own = listing.row["neighbourhood"]
    others = [p for p in ctx.places if p != own and not _mentions(listing, p)]
    if not others:
        return None
    place = ctx.rng.choice(others)
    return ({"place": place}, place, {"neighbourhood": own, "neighbourhood_group": listing.row["neighbourhood_group"]},
            f"it is in {own}")


def _other_price(listing: HostListing, ctx: _Context) -> Made | None:
    price = listing.row["price"]
    if price is None:
        return None
    claimed = round(price * ctx.rng.choice((0.5, 0.6, 0.7, 1.5, 1.8, 2.0)))
    if claimed == round(price) or claimed < 10:
        return None
    return ({"price": f"{claimed:,}"}, f"${claimed:,}", {"price": price}, f"its price is ${price:,.0f}")


def _superhost(listing: HostListing, ctx: _Context) -> Made | None:
    if listing.row["host_is_superhost"] is not False or _mentions(listing, "superhost"):
        return None
    return ({}, "Superhost", {"host_is_superhost": False}, "its host is not a Superhost")


MAKERS: dict[str, Callable[[HostListing, _Context], Made | None]] = {
    "amenity_absent": _amenity_absent, "more_bedrooms": _more_bedrooms, "more_guests": _more_guests,
    "higher_rating": _higher_rating, "landmark_distance": _landmark_distance, "view": _view, "pool": _pool,
    "other_neighbourhood": _other_neighbourhood, "other_price": _other_price, "superhost": _superhost,
}


def _mutate(listing: HostListing, kind: str, ctx: _Context) -> dict[str, Any] | None:
    prose = listing.prose
    if not prose:
        return None
    made = MAKERS[kind](listing, ctx)
    if made is None:
        return None
    fields, key, facts, why = made
    sentence = ctx.rng.choice(prose)
    templates = ctx.vocabulary["templates"][kind]
    if not sentence.text.endswith((".", "!")):  # a question or a quotation keeps its end: only whole-sentence claims
        templates = [t for t in templates if t.startswith("{s}")]
    template = ctx.rng.choice(templates)
    bare = sentence.text.rstrip(" .!;:,")
    prefix = bare if template.startswith("{s_}") else sentence.text
    mutated = template.format(s=sentence.text, s_=bare, **fields)
    return {
        "id": f"{ctx.city}-{listing.id}-{kind}",
        "split": split_of(listing.id),
        "city": ctx.city,
        "listing_id": listing.id,
        "kind": kind,
        "field": sentence.field,
        "sentence_index": sentence.index,
        "original": sentence.text,
        "mutated": mutated,
        "claim": mutated[len(prefix):].strip(" ,-"),
        "key": key,
        "facts": facts,
        "why": why,
    }


def generate_mutations(cities: Mapping[str, list[HostListing]], vocabulary: Mapping[str, Any],
                       seed: int = SEED, per_kind_per_city: int = PER_KIND_PER_CITY) -> list[dict[str, Any]]:
    """`per_kind_per_city` mutations of each kind in each city; each listing mutated at most once."""
    mutations = []
    for city in sorted(cities):
        listings = cities[city]
        ctx = _Context(city, vocabulary, sorted({l.row["neighbourhood"] for l in listings}),
                       random.Random(f"{seed}:{city}"))
        order = list(listings)
        ctx.rng.shuffle(order)
        used: set[int] = set()
        for kind in KINDS:
            made = 0
            for listing in order:
                if made == per_kind_per_city:
                    break
                if listing.id in used:
                    continue
                mutation = _mutate(listing, kind, ctx)
                if mutation is not None:
                    used.add(listing.id)
                    mutations.append(mutation)
                    made += 1
            if made < per_kind_per_city:
                raise SystemExit(f"{city}: only {made} listings can take a {kind} mutation")
    return mutations


def sentence_pool(cities: Mapping[str, list[HostListing]], split: str, size: int = POOL_SIZE,
                  seed: int = SEED) -> list[dict[str, Any]]:
    """`size` host sentences as written, from the listings of `split`, in a seeded random order."""
    candidates = [
        {"id": f"{city}-{listing.id}-{s.field}-{s.index}", "split": split, "city": city, "listing_id": listing.id,
         "field": s.field, "sentence_index": s.index, "sentence": s.text}
        for city in sorted(cities) for listing in cities[city] if split_of(listing.id) == split
        for s in listing.prose
    ]
    return random.Random(f"{seed}:pool:{split}").sample(candidates, size)


def draw_labelling_sample(pool: Sequence[Mapping[str, Any]], rejects: Callable[[Mapping[str, Any]], bool],
                          per_class: int = 100) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The sentences to hand-label: walking the pool in its frozen order, the first `per_class` that the check
    rejects and the first `per_class` it passes. The check is the one of the day; the order is not."""
    rejected: list[Mapping[str, Any]] = []
    passed: list[Mapping[str, Any]] = []
    seen = collections.Counter()
    for entry in pool:
        verdict = rejects(entry)
        seen[verdict] += 1
        side = rejected if verdict else passed
        if len(side) < per_class:
            side.append(entry)
        if len(rejected) == len(passed) == per_class:
            return rejected, passed
    raise ValueError(f"the pool of {len(pool)} sentences has only {seen[True]} the check rejects and "
                     f"{seen[False]} it passes; {per_class} of each are wanted")


Check = Callable[[str, Mapping[str, Any]], list[str]]  # (sentence, pool or mutation entry) -> problems

# The hand-labelled sample (issue 20): 50 sentences the check rejected and 50 it passed at freeze time, from
# each split's pool, so 100 rejected and 100 passed in all, dev and test apart. Labels are judged against the
# listing's structured facts only (the guide: real_text_labels.md); the sample stays fixed whatever the check
# becomes, and the rates are weighted back to the pool by the share the check rejected at freeze time.
LABELS_PER_CLASS = 50
LABELS = ("supported", "unsupported")
FACT_COLUMNS = ("name", "room_type", "property_type", "neighbourhood", "neighbourhood_group", "price",
                "minimum_nights", "number_of_reviews", "accommodates", "bedrooms", "beds", "bathrooms_text",
                "review_scores_rating", "host_is_superhost", "instant_bookable")


def labelling_entries(pool: Sequence[Mapping[str, Any]], check: Check,
                      rows: Mapping[tuple[str, int], Mapping[str, Any]],
                      per_class: int = LABELS_PER_CLASS) -> list[dict[str, Any]]:
    """The sentences to hand-label from one split's pool, each with the check's verdict and problems of the day
    and the listing's structured facts the label is judged against (label and reason left blank)."""
    from gfl_dagster.listings.amenities import amenity_features

    verdicts = {e["id"]: check(e["sentence"], e) for e in pool}
    rejected, passed = draw_labelling_sample(pool, lambda e: bool(verdicts[e["id"]]), per_class)
    entries = []
    for verdict, group in (("rejected", rejected), ("passed", passed)):
        for e in group:
            row = rows[(e["city"], e["listing_id"])]
            facts = {column: row.get(column) for column in FACT_COLUMNS}
            facts["amenity_features"] = amenity_features(row.get("amenities") or [])
            entries.append({**e, "check_at_freeze": verdict, "problems_at_freeze": verdicts[e["id"]],
                            "pool_rejected_at_freeze": sum(bool(v) for v in verdicts.values()),
                            "pool_size": len(pool), "facts": facts, "label": None, "reason": None})
    return entries


def false_rates(entries: Sequence[Mapping[str, Any]], check: Check) -> dict[str, Any]:
    """How often `check` is wrong each way on the hand-labelled sample of one split.

    false rejection: of the sentences whose every claim the facts support, the share the check rejects;
    false acceptance: of the sentences with a claim the facts do not support, the share it passes. Both are
    weighted back to the pool (the sample holds as many freeze-time rejections as passes, the pool did not),
    and the raw counts are given beside them."""
    if not entries:
        raise ValueError("no labelled sentences")
    unlabelled = [e["id"] for e in entries if e.get("label") not in LABELS or not e.get("reason")]
    if unlabelled:
        raise ValueError(f"{len(unlabelled)} sentences lack a label or its reason, e.g. {unlabelled[0]}")
    share_rejected = entries[0]["pool_rejected_at_freeze"] / entries[0]["pool_size"]
    weight = {"rejected": share_rejected, "passed": 1 - share_rejected}
    per_stratum = collections.Counter(e["check_at_freeze"] for e in entries)
    mass: dict[tuple[str, bool], float] = collections.defaultdict(float)
    counts: dict[tuple[str, bool], int] = collections.Counter()
    wrong = []
    for e in entries:
        rejected = bool(check(e["sentence"], e))
        mass[(e["label"], rejected)] += weight[e["check_at_freeze"]] / per_stratum[e["check_at_freeze"]]
        counts[(e["label"], rejected)] += 1
        if rejected != (e["label"] == "unsupported"):
            wrong.append({"id": e["id"], "label": e["label"], "check": "rejected" if rejected else "passed",
                          "sentence": e["sentence"], "reason": e["reason"]})

    def rate(label: str, wrong_verdict: bool) -> float:
        total = mass[(label, True)] + mass[(label, False)]
        return mass[(label, wrong_verdict)] / total if total else 0.0

    return {
        "sentences": len(entries),
        "supported": counts[("supported", True)] + counts[("supported", False)],
        "supported_rejected": counts[("supported", True)],
        "unsupported": counts[("unsupported", True)] + counts[("unsupported", False)],
        "unsupported_passed": counts[("unsupported", False)],
        "false_rejection": rate("supported", True),
        "false_acceptance": rate("unsupported", False),
        "wrong": wrong,
    }


def description_check(cities: Mapping[str, list[HostListing]]) -> Check:
    """Today's description check on a host sentence, as the host's words about its own listing.

    The whole check a description gets before it is stored (check_description), without its length bounds, with
    the listing's area as Postgres derives it and every place of the city as the known places.
    """
    from gfl_dagster.listings.description_check import check_description

    listings, areas, places = {}, {}, {}
    for city, members in cities.items():
        for listing in members:
            row = dict(listing.row)
            row["area"] = row["neighbourhood_group"] or row["neighbourhood"]
            listings[(city, listing.id)] = row
        areas[city] = sorted({listings[(city, l.id)]["area"] for l in members})
        places[city] = sorted({p for l in members for p in (l.row["neighbourhood"], l.row["neighbourhood_group"]) if p})

    def problems(sentence: str, entry: Mapping[str, Any]) -> list[str]:
        listing = listings[(entry["city"], entry["listing_id"])]
        return check_description(sentence, listing, areas[entry["city"]], places[entry["city"]], length=(0, 100_000))

    return problems


def check_rejects(cities: Mapping[str, list[HostListing]]) -> Callable[[Mapping[str, Any]], bool]:
    """Does today's description check reject a pool sentence?"""
    problems = description_check(cities)
    return lambda entry: bool(problems(entry["sentence"], entry))


# The words a problem points at: a quoted claim, a dollar amount, a place, a room phrase.
_POINTED = re.compile(r'^claims "(?P<claim>.*?)" \(|^mentions (?P<amount>\$[\d,.]+)|'
                      r"^places the listing in (?P<place>.+?) but|^calls it an? (?P<room>.+?) but")


_DOLLARS = re.compile(r"\$\s?(\d[\d,]*(?:\.\d+)?)")


def names_injected_claim(problem: str, claim: str) -> bool:
    """Does a problem point at words of the injected claim (not merely reject the sentence)?"""
    m = _POINTED.match(problem)
    if m is None:
        return False
    if m.group("amount"):
        amounts = {float(a.replace(",", "")) for a in _DOLLARS.findall(claim)}
        return float(m.group("amount")[1:].replace(",", "").rstrip(".")) in amounts
    pointed = next(g for g in (m.group("claim"), m.group("place"), m.group("room")) if g is not None)
    return bool(pointed.strip()) and fold(" ".join(pointed.split())) in fold(" ".join(claim.split()))


def recall_on_mutations(mutations: Sequence[Mapping[str, Any]], check: Check) -> dict[str, Any]:
    """How many injected claims the check catches: a problem on the mutated sentence that the original did not
    get, pointing at words of the injected claim. Rejecting the sentence is not enough: today's check already
    rejects two thirds of real host sentences as written."""
    by_kind: dict[str, list[int]] = {kind: [0, 0] for kind in KINDS}
    missed = []
    for m in mutations:
        before = set(check(m["original"], m))
        new = [p for p in check(m["mutated"], m) if p not in before]
        caught = any(names_injected_claim(p, m["claim"]) for p in new)
        by_kind[m["kind"]][0] += caught
        by_kind[m["kind"]][1] += 1
        if not caught:
            missed.append({"id": m["id"], "claim": m["claim"], "new_problems": new})
    caught = sum(c for c, _ in by_kind.values())
    return {"mutations": len(mutations), "caught": caught, "recall": caught / len(mutations) if mutations else 0.0,
            "by_kind": {k: {"caught": c, "mutations": n} for k, (c, n) in by_kind.items() if n}, "missed": missed}


def frozen(name: str) -> list[dict[str, Any]]:
    """The entries of one frozen file beside this module."""
    return [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines()]


def evaluate(data: Path, progress: Callable[[str], None] = lambda message: None,
             cities: Mapping[str, list[HostListing]] | None = None) -> dict[str, Any]:
    """Today's description check on the frozen real-text sets, per split: recall on the injected claims (by kind),
    false rejection and false acceptance on the hand labels, and the share of pool sentences it rejects.
    `cities`: the listings of `data`, when already loaded."""
    if cities is None:
        progress(f"reading the detailed files in {data} ...")
        cities = load_cities(data, load_vocabulary())
    check = description_check(cities)
    result: dict[str, Any] = {}
    for split in SPLITS:
        progress(f"checking the {split} split ...")
        recall = recall_on_mutations(frozen(f"real_text_mutations_{split}.jsonl"), check)
        rates = false_rates(frozen(f"real_text_labels_{split}.jsonl"), check)
        pool = frozen(f"real_text_sentences_{split}.jsonl")
        result[split] = {"recall": recall, "labels": rates,
                         "pool_rejected": sum(bool(check(e["sentence"], e)) for e in pool), "pool": len(pool)}
    return result


def _jsonl(entries: Iterable[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(e, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
                   for e in entries).encode("utf-8")


def load_cities(data: Path, vocabulary: Mapping[str, Any]) -> dict[str, list[HostListing]]:
    return {city: load_city(city, data / spec["file"]) for city, spec in vocabulary["cities"].items()}


def build(data: Path, out: Path, cities: Mapping[str, list[HostListing]] | None = None) -> dict[str, bytes]:
    """Every frozen file's bytes, written to `out` (`cities`: the listings of `data`, when already loaded)."""
    vocabulary = load_vocabulary()
    cities = cities if cities is not None else load_cities(data, vocabulary)
    mutations = generate_mutations(cities, vocabulary)
    files = {}
    for split in SPLITS:
        files[f"real_text_mutations_{split}.jsonl"] = _jsonl(m for m in mutations if m["split"] == split)
        files[f"real_text_sentences_{split}.jsonl"] = _jsonl(sentence_pool(cities, split))
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (out / name).write_bytes(content)
    return files


def _report(files: Mapping[str, bytes]) -> None:
    for name, content in sorted(files.items()):
        entries = [json.loads(line) for line in content.decode("utf-8").splitlines()]
        counts = collections.Counter(e.get("kind", "sentence") for e in entries)
        print(f"{name}: {len(entries)} entries, {len(content):,} bytes, sha256 {hashlib.sha256(content).hexdigest()}")
        if "mutations" in name:
            print("  " + ", ".join(f"{kind} {counts[kind]}" for kind in KINDS))
            cities = collections.Counter(e["city"] for e in entries)
            print("  " + ", ".join(f"{city} {n}" for city, n in sorted(cities.items())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("GFL_SHARED_DATA"),
                        help="the folder holding the Inside Airbnb detailed files (default: $GFL_SHARED_DATA)")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the files (default: beside this script)")
    parser.add_argument("--verify", action="store_true",
                        help="regenerate into a temporary folder and compare with the files in --out")
    parser.add_argument("--draw", choices=SPLITS, metavar="SPLIT",
                        help="write the 200 sentences to hand-label (100 today's check rejects, 100 it passes) "
                             "from the frozen pool of SPLIT (dev or test) in --out, to --draw-out")
    parser.add_argument("--draw-out", type=Path, default=Path("real_text_labelling.jsonl"))
    parser.add_argument("--draw-labels", type=Path, metavar="FOLDER",
                        help="write real_text_labels_{dev,test}.jsonl to FOLDER: from each split's frozen pool, "
                             f"{LABELS_PER_CLASS} sentences today's check rejects and {LABELS_PER_CLASS} it passes, "
                             "with the listing's facts, label and reason blank (to fill by hand)")
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error("set GFL_SHARED_DATA or pass --data: the folder holding the shared Inside Airbnb files")
    if args.draw_labels:
        cities = load_cities(args.data, load_vocabulary())
        rows = {(city, l.id): l.row for city, members in cities.items() for l in members}
        check = description_check(cities)
        args.draw_labels.mkdir(parents=True, exist_ok=True)
        for split in SPLITS:
            pool = [json.loads(line) for line in (args.out / f"real_text_sentences_{split}.jsonl").open(encoding="utf-8")]
            target = args.draw_labels / f"real_text_labels_{split}.jsonl"
            target.write_bytes(_jsonl(labelling_entries(pool, check, rows)))
            print(f"{target}: {2 * LABELS_PER_CLASS} sentences of the {split} pool to label")
        return 0
    if args.draw:
        pool = [json.loads(line) for line in (args.out / f"real_text_sentences_{args.draw}.jsonl").open(encoding="utf-8")]
        rejects = check_rejects(load_cities(args.data, load_vocabulary()))
        rejected, passed = draw_labelling_sample(pool, rejects)
        blank = {"label": None, "label_reason": None}  # filled by hand: label "faithful" or "invented", one-line reason
        args.draw_out.write_bytes(_jsonl([{**e, "check": "rejected", **blank} for e in rejected]
                                         + [{**e, "check": "passed", **blank} for e in passed]))
        print(f"{args.draw_out}: {len(rejected)} rejected and {len(passed)} passed sentences of the {args.draw} pool")
        return 0
    if not args.verify:
        _report(build(args.data, args.out))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        files = build(args.data, Path(folder))
    different = [name for name, content in sorted(files.items())
                 if not (args.out / name).is_file() or (args.out / name).read_bytes() != content]
    _report(files)
    if different:
        print(f"differ from {args.out}: {', '.join(different)}", file=sys.stderr)
        return 1
    print(f"all {len(files)} files reproduce byte for byte")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
