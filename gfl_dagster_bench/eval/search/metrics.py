"""Ranking metrics over graded relevance (0 = not relevant, 1 = partly, 2 = fully).

Pure functions over lists of grades in ranked order, so they are tested without
a database. Precision counts only fully relevant hits: a partly relevant listing
(right place, wrong price) is not what the user asked for.
"""

from __future__ import annotations

import math
from statistics import mean
from typing import Sequence

FULLY_RELEVANT = 2


def precision_at_k(ranked_grades: Sequence[int], k: int = 10, threshold: int = FULLY_RELEVANT) -> float:
    """Share of the top k slots holding a hit graded at least `threshold`.

    Missing slots (fewer than k hits) count as misses: returning less is not better.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return sum(1 for grade in ranked_grades[:k] if grade >= threshold) / k


def dcg_at_k(ranked_grades: Sequence[int], k: int = 10) -> float:
    """Discounted cumulative gain with exponential gain (2^grade - 1)."""
    return sum((2 ** grade - 1) / math.log2(rank + 2) for rank, grade in enumerate(ranked_grades[:k]))


def ndcg_at_k(ranked_grades: Sequence[int], corpus_grades: Sequence[int], k: int = 10) -> float:
    """DCG of the ranking over the DCG of the best possible ranking of the whole corpus.

    `corpus_grades` are the grades of every listing searched, so a ranking that
    misses better listings the index holds is penalised. 0.0 when nothing is relevant.
    """
    ideal = dcg_at_k(sorted(corpus_grades, reverse=True), k)
    return dcg_at_k(ranked_grades, k) / ideal if ideal > 0 else 0.0


def mean_or_zero(values: Sequence[float]) -> float:
    return mean(values) if values else 0.0
