"""Which ad an impression shows: Thompson sampling over Beta posteriors, pooled by audience and angle.

Thompson sampling (Chapelle & Li 2011) shows each ad with the probability that it is the best,
and keeps working when clicks arrive late and in batches, as they do here (the statistics are
a snapshot read between runs). One listing's ad gets few impressions, so evidence is pooled:

- an angle's posterior, per audience: Beta(prior clicks + clicks, prior non-clicks + non-clicks)
  over every ad of that audience and angle, retired ones too (what was learnt stays learnt);
- an ad's posterior: the prior, plus the audience's evidence for its angle from the other ads,
  counted as at most `pooled_weight` impressions, plus the ad's own impressions and clicks. The
  pool decides while the ad is new; its listing's own evidence decides once there is enough.

`choose` shows each candidate with the probability that its posterior draws the highest click-through,
the probability Thompson sampling shows it with (its propensity), and the ad is then drawn with those
probabilities, so the propensity recorded is the probability the choice was made with. That
probability is computed, not sampled: P(ad i wins) = integral of f_i(x) * prod_{j != i} F_j(x) dx over
the posteriors' densities f and distribution functions F, by quadrature on a grid fine for the
narrowest posterior (`win_probabilities`). So it is a function of the evidence alone: two web workers,
or two snapshots of the same evidence, record the same propensity to the last bit, where Monte Carlo
estimates from unseeded draws differed by about a percentage point. The retirement probability
(`probability_worse`) is the same integral for two posteriors. A snapshot never changes, so the
probabilities of one set of candidates are computed once.

Pure: no database, no clock. Randomness (the choice itself, and the angles a new ad explores) comes from
a numpy Generator, seeded in tests and in the simulated market.
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable, Mapping, Optional, Sequence

import numpy as np

from gfl_dagster.ads.audiences import Learning

Counts = tuple[int, int]  # (impressions, clicks)
Posterior = tuple[float, float]  # Beta(alpha, beta)


def value_of(item: Any, name: str) -> Any:
    """`item.name` or `item[name]`: candidates may be database rows or mappings."""
    try:
        return getattr(item, name)
    except AttributeError:
        return item[name]


class Bandit:
    """A snapshot of the evidence, and the choices and judgements made from it.

    `ads`: the active ads' statistics (`ad_id`, `audience`, `angle`, `impressions`, `clicks`);
    `pooled`: {(audience, angle): (impressions, clicks)} over every ad, retired ones included.
    """

    def __init__(self, ads: Iterable[Any], pooled: Mapping[tuple[str, str], Counts], learning: Learning,
                 rng: Optional[np.random.Generator] = None):
        self.learning = learning
        self.rng = rng if rng is not None else np.random.default_rng()
        # More clicks than impressions (clicks sent without an impression served) count up to the impressions.
        self.pooled = {key: (int(n), min(int(c), int(n))) for key, (n, c) in pooled.items()}
        self.own = {value_of(ad, "ad_id"): (int(value_of(ad, "impressions")),
                                            min(int(value_of(ad, "clicks")), int(value_of(ad, "impressions"))))
                    for ad in ads}
        self._wins: dict[tuple, np.ndarray] = {}  # a snapshot's answers do not change: each is computed once
        self._worse: dict[tuple, float] = {}
        self._judged: dict[tuple, dict[str, float]] = {}

    # --- posteriors ---------------------------------------------------------------------------------------
    def _prior(self) -> Posterior:
        return self.learning.prior_clicks, self.learning.prior_impressions - self.learning.prior_clicks

    def angle_posterior(self, audience: str, angle: str) -> Posterior:
        impressions, clicks = self.pooled.get((audience, angle), (0, 0))
        a, b = self._prior()
        return a + clicks, b + impressions - clicks

    def ad_posterior(self, audience: str, angle: str, ad_id: Optional[Hashable] = None) -> Posterior:
        """The ad's posterior; `ad_id` None (or an ad the snapshot has not seen): a new ad of that angle."""
        own_n, own_c = self.own.get(ad_id, (0, 0)) if ad_id is not None else (0, 0)
        pool_n, pool_c = self.pooled.get((audience, angle), (0, 0))
        rest_n, rest_c = max(pool_n - own_n, 0), max(pool_c - own_c, 0)
        weight = min(1.0, self.learning.pooled_weight / rest_n) if rest_n else 0.0
        a, b = self._prior()
        return (a + weight * rest_c + own_c, b + weight * (rest_n - rest_c) + own_n - own_c)

    def win_probabilities(self, posteriors: Sequence[Posterior]) -> np.ndarray:
        """Each posterior's probability of drawing the highest click-through (Thompson sampling's
        probability of showing it): a deterministic function of the posteriors' parameters."""
        if len(posteriors) == 1:
            return np.ones(1)
        return win_probabilities(posteriors)

    def probability_worse(self, posterior: Posterior, than: Posterior) -> float:
        """P(click-through under `posterior` < under `than`)."""
        key = (posterior, than)
        if key not in self._worse:
            self._worse[key] = float(win_probabilities([posterior, than])[1])
        return self._worse[key]

    # --- choices -----------------------------------------------------------------------------------------
    def propensities(self, audience: str, candidates: Sequence[Any]) -> np.ndarray:
        """The probability that `choose` shows each candidate (`id` and `angle` each)."""
        key = (audience, tuple((value_of(c, "id"), value_of(c, "angle")) for c in candidates))
        if key not in self._wins:
            self._wins[key] = self.win_probabilities(
                [self.ad_posterior(audience, value_of(c, "angle"), value_of(c, "id")) for c in candidates])
        return self._wins[key]

    def choose(self, audience: str, candidates: Sequence[Any], rng: Any = None) -> tuple[Any, float]:
        """The ad one impression shows among `candidates` (a listing's active ads for `audience`, each with
        `id` and `angle`), and the probability it was chosen with (its propensity). `rng`: anything with
        `.random()` (a `random.Random` or numpy Generator) to draw the choice with; default the bandit's."""
        if not candidates:
            raise ValueError(f"no candidate ads to choose from for audience {audience!r}")
        probabilities = self.propensities(audience, candidates)
        cumulative = np.cumsum(probabilities)
        draw = (self.rng if rng is None else rng).random()
        index = min(int(np.searchsorted(cumulative, draw * cumulative[-1], side="right")),
                    len(candidates) - 1)
        return candidates[index], float(probabilities[index])

    def best_angle(self, audience: str, angles: Sequence[str]) -> str:
        """The judged angle (any, if none is judged) with the highest posterior mean for the audience
        (ties: the first listed). An unjudged angle's mean is the prior's: no evidence that it is best."""
        def mean(angle: str) -> float:
            a, b = self.angle_posterior(audience, angle)
            return a / (a + b)
        return max([angle for angle in angles if self.judged(audience, angle)] or angles, key=mean)

    def judged(self, audience: str, angle: str) -> bool:
        """Has the angle been shown `min_impressions` times to the audience? Before that, the prior alone
        would judge it, and a prior is no evidence."""
        return self.pooled.get((audience, angle), (0, 0))[0] >= self.learning.min_impressions

    def judged_worse(self, audience: str, angles: Sequence[str]) -> dict[str, float]:
        """{angle: P(worse than the best of `angles`)} for the judged angles the audience's clicks have found
        worse with at least `retire_confidence`."""
        key = (audience, tuple(angles))
        if key not in self._judged:
            best = self.best_angle(audience, angles) if angles else None
            reference = self.angle_posterior(audience, best) if angles else None
            probabilities = {angle: self.probability_worse(self.angle_posterior(audience, angle), reference)
                             for angle in angles if angle != best and self.judged(audience, angle)}
            self._judged[key] = {angle: p for angle, p in probabilities.items()
                                 if p >= self.learning.retire_confidence}
        return self._judged[key]

    def explore(self, audience: str, angles: Sequence[str], count: int) -> list[str]:
        """Up to `count` of `angles` for new ads: one Thompson draw each from a new ad's posterior, best first."""
        if not angles or count <= 0:
            return []
        alpha, beta = np.array([self.ad_posterior(audience, angle) for angle in angles], dtype=float).T
        draws = self.rng.beta(alpha, beta)
        return [angles[i] for i in np.argsort(-draws, kind="stable")[:count]]


CELLS_PER_POSTERIOR = 1024  # grid cells across each posterior's mean +- WIDTH standard deviations
WIDTH = 12.0  # the prior alone, Beta(2, 98), leaves about 3e-8 of its mass beyond 12 standard deviations


def win_probabilities(posteriors: Sequence[Posterior]) -> np.ndarray:
    """P(posterior i draws the highest value) for Beta(alpha, beta) posteriors: the integral of
    f_i(x) * prod_{j != i} F_j(x), by the midpoint rule on one grid.

    The grid joins, for each posterior, CELLS_PER_POSTERIOR cells across its mean +- WIDTH standard
    deviations, so a posterior of 20,000 impressions (sd 0.2 points) is resolved as finely as the prior's
    (sd 1.4 points) beside it. Each density is normalised to sum to 1 on the grid (no gamma functions, and
    the tails cut off are put back in proportion). Within a cell, two draws tie half and half, so equal
    posteriors get exactly equal shares; the shares are normalised to sum to 1 (more than two posteriors
    tied in one cell lose a little otherwise). Within 3e-6 of the exact sum for whole-number parameters
    (worst of 208 pairs, 0 to 30,000 impressions each), where 2,000 Monte Carlo draws erred by about
    0.01; about 0.3 ms of CPU for a pair, as the draws took (BENCHMARKS.md). Tests: test_bandit.py.
    """
    alpha, beta = np.array(posteriors, dtype=float).T
    total = alpha + beta
    mean = alpha / total
    spread = WIDTH * np.sqrt(alpha * beta / (total ** 2 * (total + 1)))
    edges = np.unique(np.concatenate([np.linspace(lo, hi, CELLS_PER_POSTERIOR + 1) for lo, hi in
                                      zip(np.clip(mean - spread, 0, 1), np.clip(mean + spread, 0, 1))]))
    x = (edges[:-1] + edges[1:]) / 2
    log_density = (alpha[:, None] - 1) * np.log(x) + (beta[:, None] - 1) * np.log1p(-x)
    mass = np.exp(log_density - log_density.max(axis=1, keepdims=True)) * np.diff(edges)
    mass /= mass.sum(axis=1, keepdims=True)
    below = np.cumsum(mass, axis=1) - mass / 2  # P(X_j < a draw in this cell), ties split
    wins = np.array([mass[i] @ np.prod(np.delete(below, i, axis=0), axis=0) for i in range(len(posteriors))])
    return wins / wins.sum()


def pooled_counts(ads: Iterable[Any]) -> dict[tuple[str, str], Counts]:
    """{(audience, angle): (impressions, clicks)} summed over `ads` (any with those fields)."""
    pooled: dict[tuple[str, str], list[int]] = {}
    for ad in ads:
        counts = pooled.setdefault((value_of(ad, "audience"), value_of(ad, "angle")), [0, 0])
        counts[0] += int(value_of(ad, "impressions"))
        counts[1] += int(value_of(ad, "clicks"))
    return {key: (n, c) for key, (n, c) in pooled.items()}
