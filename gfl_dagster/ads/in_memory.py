"""The project's ads learner, held in memory: for a simulated market (`gfl bench loop`).

It runs the code write_ads runs against the database, on ads kept in a list: angles drawn by
`next_angles`, texts by the template, impressions chosen by `choose_ad` (the page's choice), variants
judged and replaced by `plan_retirements`. It never sees a click: it reads each ad's impressions and
clicks once per round (`end_round`) from the trusted events recorded (feedback/record.py's EventLog,
counted as AD_STATS counts the table), as a run of listing_ads reads the table, and builds its bandit
from them as read_bandit does: a snapshot, with delayed, batched feedback. It knows nothing of why
people click.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Optional, Sequence

import numpy as np

from gfl_dagster.ads.ad_prompt import template_ad
from gfl_dagster.ads.angles import Angle, angle_facts, available_angles
from gfl_dagster.ads.audiences import Audience, Learning, ineligible_reason
from gfl_dagster.ads.bandit import Bandit, pooled_counts
from gfl_dagster.ads.for_hits import choose_ad
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

    def _stats(self, every: bool = False) -> list[AdStats]:
        """The active ads' statistics (AD_STATS); `every`: retired ones too (ANGLE_STATS pools them)."""
        return [AdStats(ad.id, ad.listing_id, ad.audience, 0, ad.impressions, ad.clicks, ad.text, ad.angle)
                for ad in self.ads if every or ad.retired is None]

    def _snapshot(self) -> Bandit:
        return Bandit(self._stats(), pooled_counts(self._stats(every=True)), self.learning, self.rng)

    def candidates(self, audience: str, listing_id: Hashable) -> list[Ad]:
        return self.active.get((audience, listing_id), [])

    def choose(self, audience: str, listing_id: Hashable) -> tuple[Ad, float]:
        return choose_ad(self.bandit, audience, self.candidates(audience, listing_id))

    def end_round(self, evidence: Mapping[Hashable, tuple[int, int]]) -> list[Retirement]:
        """What a run of listing_ads does: read the evidence ({ad id: (impressions, clicks)} of the trusted
        events), retire the judged variants, write replacements."""
        for ad in self.ads:
            ad.impressions, ad.clicks = evidence.get(ad.id, (0, 0))
        self.bandit = self._snapshot()
        plan = plan_retirements(self._stats(), self.bandit, self.learning, self.offered)
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
