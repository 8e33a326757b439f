"""Do the hits honour what the sentence asked? Scored against the hand-written parse of each labelled query.

A hit's grade for a query with stated constraints: 2 when it satisfies every one, 1 when it fails
exactly one, 0 otherwise. That grade feeds precision@10 and nDCG@10 (metrics.py) over the whole
corpus, so understood search and the text-only baseline are compared on the same labels.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from gfl_dagster.search.query import EQUALITY_FILTERS, RANGE_FILTERS
from gfl_dagster_bench.eval.search.metrics import mean_or_zero, ndcg_at_k, precision_at_k
from gfl_dagster_bench.eval.search.understanding_queries import LabelledParse

K = 10


def failed_constraints(filters: Mapping[str, Any], hit: Mapping[str, Any]) -> int:
    """How many of the stated filters the hit fails (a missing value fails a bound)."""
    failed = 0
    for name, wanted in filters.items():
        if name in EQUALITY_FILTERS:
            failed += hit.get(EQUALITY_FILTERS[name]) != wanted
        elif name in RANGE_FILTERS:
            column, op = RANGE_FILTERS[name]
            value = hit.get(column)
            failed += value is None or (float(value) < wanted if op == ">=" else float(value) > wanted)
    return failed


def grade(filters: Mapping[str, Any], hit: Mapping[str, Any]) -> int:
    return {0: 2, 1: 1}.get(failed_constraints(filters, hit), 0)


def evaluate_constraints(entries: Sequence[LabelledParse], search: Callable[[str], Sequence[Mapping[str, Any]]],
                         corpus: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Over the queries that state constraints: the share of top-10 hits satisfying all of them,
    queries whose every hit does, precision@10 and nDCG@10 by the constraint grade."""
    constrained = [entry for entry in entries if entry.filters]
    satisfied = shown = all_good = 0
    precisions, ndcgs = [], []
    for entry in constrained:
        hits = list(search(entry.text))[:K]
        grades = [grade(entry.filters, hit) for hit in hits]
        satisfied += sum(1 for g in grades if g == 2)
        shown += len(hits)
        all_good += all(g == 2 for g in grades)
        precisions.append(precision_at_k(grades, K))
        ndcgs.append(ndcg_at_k(grades, [grade(entry.filters, row) for row in corpus], K))
    return {"queries": len(constrained), "hits": shown,
            "share_satisfying_all": satisfied / shown if shown else 1.0,
            "queries_all_hits_satisfying": all_good,
            "precision_at_10": mean_or_zero(precisions), "ndcg_at_10": mean_or_zero(ndcgs)}
