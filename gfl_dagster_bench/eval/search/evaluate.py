"""Scoring a search function against the labelled query set, and timing it.

The search is passed in as a function (text -> hits), so this module knows
nothing of backends or modes and the benchmark decides what to run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from gfl_dagster_bench.common import percentile
from gfl_dagster_bench.eval.search.metrics import mean_or_zero, ndcg_at_k, precision_at_k
from gfl_dagster_bench.eval.search.queries import QUERIES, LabelledQuery
from gfl_dagster_bench.eval.search.relevance import grade

K = 10
Search = Callable[[str], Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class QueryScore:
    text: str
    precision_at_10: float
    ndcg_at_10: float


def score_query(labelled: LabelledQuery, hits: Sequence[Mapping[str, Any]], corpus_grades: Sequence[int]) -> QueryScore:
    ranked = [grade(labelled.relevance, hit) for hit in hits]
    return QueryScore(labelled.text, precision_at_k(ranked, K), ndcg_at_k(ranked, corpus_grades, K))


def corpus_grades(corpus: Sequence[Mapping[str, Any]], queries: Sequence[LabelledQuery] = QUERIES) -> dict[str, list[int]]:
    """Every listing's grade for every query: the ideal rankings nDCG compares with."""
    return {q.text: [grade(q.relevance, listing) for listing in corpus] for q in queries}


def evaluate(search: Search, grades: Mapping[str, Sequence[int]],
             queries: Sequence[LabelledQuery] = QUERIES) -> dict[str, Any]:
    scores = [score_query(q, search(q.text), grades[q.text]) for q in queries]
    return {
        "precision_at_10": mean_or_zero([s.precision_at_10 for s in scores]),
        "ndcg_at_10": mean_or_zero([s.ndcg_at_10 for s in scores]),
        "per_query": {s.text: {"precision_at_10": s.precision_at_10, "ndcg_at_10": s.ndcg_at_10} for s in scores},
    }


def ceiling(grades: Mapping[str, Sequence[int]]) -> dict[str, float]:
    """The best mean precision@10 any ranking could reach (some queries have few fully relevant listings)."""
    return {"precision_at_10": mean_or_zero([precision_at_k(sorted(g, reverse=True), K) for g in grades.values()]),
            "ndcg_at_10": 1.0}


def latency_ms(search: Search, texts: Sequence[str], searches: int, warm_up: int = 5) -> dict[str, float]:
    """p50/p95 wall time of `searches` calls cycling through `texts`, after a few untimed ones."""
    for text in texts[:warm_up]:
        search(text)
    samples = []
    for number in range(searches):
        started = time.perf_counter()
        search(texts[number % len(texts)])
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": percentile(samples, 0.50), "p95_ms": percentile(samples, 0.95), "searches": searches}
