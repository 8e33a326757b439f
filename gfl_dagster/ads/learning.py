"""Ads that learn, the pure statistics: smoothed click-through, and which variant to retire with which examples.

Click-through is smoothed with a prior (`Learning.prior_clicks` in
`prior_impressions`): an ad starts at the prior's rate and its own clicks move it
only as impressions accrue, so 1 click in 2 impressions does not beat 40 in 1,000.

Per listing and audience, once `variants` ads are active and every one has been
shown `min_impressions` times, the weakest is retired if the best beats it by at
least `min_ctr_gap` (smoothed). Its replacement is written from the audience's
best ads across all listings (judged ones only, none retired in the same plan:
a retired ad is no model to follow). Ties are broken by more impressions, then
by the smaller ad id, so the same statistics always give the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Sequence

from gfl_dagster.ads.audiences import Learning


@dataclass(frozen=True)
class AdStats:
    ad_id: Any
    listing_id: Any
    audience: str  # the audience's slug
    variant: int
    impressions: int
    clicks: int
    text: str


@dataclass(frozen=True)
class Retirement:
    ad_id: Any
    listing_id: Any
    audience: str
    reason: str  # the figures that decided it
    examples: list[Any] = field(default_factory=list)  # ad ids whose texts feed the replacement, best first
    examples_reason: str = ""  # why those were chosen, with their figures


def smoothed_ctr(clicks: int, impressions: int, learning: Learning) -> float:
    """(clicks + prior clicks) / (impressions + prior impressions)."""
    if clicks < 0 or impressions < 0:
        raise ValueError(f"clicks and impressions must not be negative, got {clicks}/{impressions}")
    return (clicks + learning.prior_clicks) / (impressions + learning.prior_impressions)


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _figures(ad: AdStats, learning: Learning) -> str:
    raw = ad.clicks / ad.impressions if ad.impressions else 0.0
    return (f"ctr {_percent(raw)} ({ad.clicks}/{ad.impressions}, "
            f"smoothed {_percent(smoothed_ctr(ad.clicks, ad.impressions, learning))})")


def _ranked(ads: Sequence[AdStats], learning: Learning) -> list[AdStats]:
    """Best first: smoothed click-through, then more evidence, then the smaller id."""
    return sorted(ads, key=lambda ad: (-smoothed_ctr(ad.clicks, ad.impressions, learning), -ad.impressions,
                                       _id_key(ad.ad_id)))


def _id_key(ad_id: Any) -> tuple:
    # Ids are numbers in the database; anything else still sorts, after them.
    return (0, ad_id, "") if isinstance(ad_id, int) else (1, 0, str(ad_id))


def _judged(ad: AdStats, learning: Learning) -> bool:
    return ad.impressions >= learning.min_impressions


def plan_refinement(stats: Sequence[AdStats], learning: Learning) -> list[Retirement]:
    """The variants to retire (at most one per listing and audience) and the examples for each replacement.

    `stats` holds the active ads. Retirements come ordered by audience, then listing.
    """
    groups: dict[tuple[str, Hashable], list[AdStats]] = {}
    for ad in stats:
        groups.setdefault((ad.audience, ad.listing_id), []).append(ad)
    retiring: list[tuple[AdStats, str]] = []
    for key in sorted(groups, key=lambda k: (k[0], _id_key(k[1]))):
        group = groups[key]
        if len(group) < learning.variants or not all(_judged(ad, learning) for ad in group):
            continue  # not enough variants, or not enough evidence for every one of them
        ranked = _ranked(group, learning)
        best, worst = ranked[0], ranked[-1]
        gap = (smoothed_ctr(best.clicks, best.impressions, learning)
               - smoothed_ctr(worst.clicks, worst.impressions, learning))
        if gap <= 0 or gap < learning.min_ctr_gap:
            continue  # equal ads teach nothing; a small gap may be noise
        retiring.append((worst, f"{_figures(worst, learning)} vs best {_figures(best, learning)} (ad {best.ad_id}): "
                                f"smoothed gap {gap * 100:.1f} points >= {learning.min_ctr_gap * 100:.1f}"))
    retired_ids = {ad.ad_id for ad, _ in retiring}
    plan = []
    for ad, reason in retiring:
        candidates = [other for other in stats if other.audience == ad.audience and other.ad_id not in retired_ids
                      and _judged(other, learning)]
        examples = _ranked(candidates, learning)[:learning.examples]
        examples_reason = (
            f"the {len(examples)} best ads of audience {ad.audience!r} by smoothed ctr with at least "
            f"{learning.min_impressions} impressions, none retired: "
            + "; ".join(f"ad {e.ad_id} {_figures(e, learning)}" for e in examples)
            if examples else
            f"no ad of audience {ad.audience!r} has {learning.min_impressions} impressions and is kept")
        plan.append(Retirement(ad.ad_id, ad.listing_id, ad.audience, reason, [e.ad_id for e in examples],
                               examples_reason))
    return plan
