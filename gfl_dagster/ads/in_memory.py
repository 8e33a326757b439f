"""The project's ads learner, held in memory: for a simulated market (`gfl bench loop`).

It runs the code write_ads runs against the database, on ads kept in a list: angles drawn by
`next_angles`, texts by the template, impressions chosen by the bandit, variants judged and
replaced by `plan_retirements`. Clicks reach it as they reach the database, through `record`, and
its evidence is re-read once per round (`end_round`), as a run of listing_ads reads the table: the
bandit works on a snapshot, with delayed, batched feedback. It knows nothing of why people click.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Optional, Sequence

import numpy as np

from gfl_dagster.ads.ad_prompt import template_ad
from gfl_dagster.ads.angles import Angle, angle_facts, available_angles
from gfl_dagster.ads.audiences import Audience, Learning, ineligible_reason
from gfl_dagster.ads.bandit import Bandit
from gfl_dagster.ads.learning import AdStats, Retirement, next_angles, plan_retirements


@dataclass
class Ad:
    id: int
    listing_id: Hashable
    audience: str
    angle: str
    text: str
    impressions: int = 0
    clicks: int = 0
    retired: Optional[str] = None  # why


class InMemoryLearner:
    def __init__(self, listings: Sequence[Mapping[str, Any]], audiences: Sequence[Audience],
                 angles: Sequence[Angle], learning: Learning, seed: int):
        self.learning = learning
        self.rng = np.random.default_rng([seed, 3])
        self.angles = {angle.slug: angle for angle in angles}
        self.audiences = {audience.slug: audience for audience in audiences}
        self.rows = {row["id"]: row for row in listings}
        self.offered = {row["id"]: [a.slug for a in available_angles(angles, angle_facts(row))] for row in listings}
        self.ads: list[Ad] = []
        self.pooled: dict[tuple[str, str], list[int]] = {}
        self.retirements: list[Retirement] = []
        self.bandit = self._snapshot()
        for row in listings:
            for audience in audiences:
                if ineligible_reason(audience, row) is None:
                    for angle in next_angles(self.bandit, audience.slug, self.offered[row["id"]], [],
                                             learning.variants):
                        self._write(row["id"], audience.slug, angle)
        self._index()

    def _write(self, listing_id: Hashable, audience: str, angle: str) -> None:
        text = template_ad(self.audiences[audience], angle_facts(self.rows[listing_id]), self.angles[angle])
        self.ads.append(Ad(len(self.ads) + 1, listing_id, audience, angle, text))

    def _index(self) -> None:
        self.active: dict[tuple[str, Hashable], list[Ad]] = {}
        for ad in self.ads:
            if ad.retired is None:
                self.active.setdefault((ad.audience, ad.listing_id), []).append(ad)

    def _snapshot(self) -> Bandit:
        stats = [AdStats(ad.id, ad.listing_id, ad.audience, 0, ad.impressions, ad.clicks, ad.text, ad.angle)
                 for ad in self.ads if ad.retired is None]
        return Bandit(stats, {key: (n, c) for key, (n, c) in self.pooled.items()}, self.learning, self.rng)

    def candidates(self, audience: str, listing_id: Hashable) -> list[Ad]:
        return self.active.get((audience, listing_id), [])

    def choose(self, audience: str, listing_id: Hashable) -> tuple[Ad, float]:
        return self.bandit.choose(audience, self.candidates(audience, listing_id))

    def record(self, ad: Ad, clicked: bool) -> None:
        ad.impressions += 1
        ad.clicks += clicked
        counts = self.pooled.setdefault((ad.audience, ad.angle), [0, 0])
        counts[0] += 1
        counts[1] += clicked

    def end_round(self) -> list[Retirement]:
        """What a run of listing_ads does: read the evidence, retire the judged variants, write replacements."""
        self.bandit = self._snapshot()
        stats = [AdStats(ad.id, ad.listing_id, ad.audience, 0, ad.impressions, ad.clicks, ad.text, ad.angle)
                 for ad in self.ads if ad.retired is None]
        plan = plan_retirements(stats, self.bandit, self.learning, self.offered)
        by_id = {ad.id: ad for ad in self.ads}
        for retirement in plan:
            by_id[retirement.ad_id].retired = retirement.reason
            if retirement.replacement_angle is not None:
                self._write(retirement.listing_id, retirement.audience, retirement.replacement_angle)
        self.retirements += plan
        self._index()
        self.bandit = self._snapshot()
        return plan

    def policy(self, audience: str, listing_id: Hashable) -> dict[str, float]:
        """{angle: probability of being shown} for one listing and audience, as the bandit stands."""
        candidates = self.candidates(audience, listing_id)
        if not candidates:
            return {}
        return {ad.angle: float(p) for ad, p in zip(candidates, self.bandit.propensities(audience, candidates))}
