"""Ads that learn, the pure decisions: which variants the clicks have judged, and what replaces them.

A listing's variant is retired, once its angle (pooled over the audience's ads) or the ad itself has
`min_impressions` impressions, when the posterior probability that it is worse than the best angle its
listing can lead with reaches `Learning.retire_confidence` (ads/bandit.py's posteriors: the audience's
evidence for the angle, then the ad's own). "The best angle" is the audience's best by posterior mean
among the angles the listing states; the listing's own ad of that angle is the reference where it has
one, so a listing that draws few clicks whatever it says does not churn its ads. That best ad is never
retired, so every listing keeps at least one.

A replacement explores an angle the listing does not show now, other than the retired one, that the
audience's clicks have not judged worse (a Thompson draw among them); with a chat model it is also
written from the audience's best ads as examples. Every decision carries its figures as its reason.

Smoothed click-through ((clicks + prior clicks) / (impressions + prior impressions)) ranks the example
ads; ties go to more impressions, then the smaller ad id, so the same statistics give the same ranking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Mapping, Optional, Sequence

from gfl_dagster.ads.audiences import Learning
from gfl_dagster.ads.bandit import Bandit


@dataclass(frozen=True)
class AdStats:
    ad_id: Any
    listing_id: Any
    audience: str  # the audience's slug
    variant: int
    impressions: int
    clicks: int
    text: str
    angle: Optional[str] = None


@dataclass(frozen=True)
class Retirement:
    ad_id: Any
    listing_id: Any
    audience: str
    angle: Optional[str]
    reason: str  # the figures that decided it
    replacement_angle: Optional[str] = None  # None: no angle left to explore
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


def _pooled_figures(bandit: Bandit, audience: str, angle: str) -> str:
    impressions, clicks = bandit.pooled.get((audience, angle), (0, 0))
    return f"{angle} {_percent(clicks / impressions if impressions else 0.0)} ({clicks}/{impressions})"


def _ranked(ads: Sequence[AdStats], learning: Learning) -> list[AdStats]:
    """Best first: smoothed click-through, then more evidence, then the smaller id."""
    return sorted(ads, key=lambda ad: (-smoothed_ctr(ad.clicks, ad.impressions, learning), -ad.impressions,
                                       _id_key(ad.ad_id)))


def _id_key(ad_id: Any) -> tuple:
    # Ids are numbers in the database; anything else still sorts, after them.
    return (0, ad_id, "") if isinstance(ad_id, int) else (1, 0, str(ad_id))


def next_angles(bandit: Bandit, audience: str, available: Sequence[str], exclude: Sequence[str],
                count: int) -> list[str]:
    """Up to `count` angles for new ads of a listing that states `available`: not in `exclude` (what it
    shows, what was just retired), not judged worse by the audience's clicks; a Thompson draw orders them."""
    worse = bandit.judged_worse(audience, list(available))
    open_angles = [angle for angle in available if angle not in exclude and angle not in worse]
    return bandit.explore(audience, open_angles, count)


def examples_for(audience: str, stats: Sequence[AdStats], learning: Learning,
                 leaving: frozenset = frozenset()) -> tuple[list[Any], str]:
    """The audience's best judged ads (none of `leaving`) as examples for a new ad, and why those."""
    candidates = [ad for ad in stats if ad.audience == audience and ad.ad_id not in leaving
                  and ad.impressions >= learning.min_impressions]
    examples = _ranked(candidates, learning)[:learning.examples]
    if not examples:
        return [], f"no ad of audience {audience!r} has {learning.min_impressions} impressions and is kept"
    return [e.ad_id for e in examples], (
        f"the {len(examples)} best ads of audience {audience!r} by smoothed ctr with at least "
        f"{learning.min_impressions} impressions, none retired: "
        + "; ".join(f"ad {e.ad_id} ({e.angle}) {_figures(e, learning)}" for e in examples))


def plan_retirements(stats: Sequence[AdStats], bandit: Bandit, learning: Learning,
                     available: Mapping[Hashable, Sequence[str]]) -> list[Retirement]:
    """The variants the clicks have judged, with each replacement's angle and examples.

    `stats` holds the active ads; `available` the angles each listing to judge can lead with (listings
    not in it are not judged). Retirements come ordered by audience, then listing, then ad.
    """
    groups: dict[tuple[str, Hashable], list[AdStats]] = {}
    for ad in stats:
        if ad.listing_id in available and ad.angle is not None:
            groups.setdefault((ad.audience, ad.listing_id), []).append(ad)
    retiring: list[tuple[AdStats, str, list[str]]] = []
    for (audience, listing_id) in sorted(groups, key=lambda k: (k[0], _id_key(k[1]))):
        group = sorted(groups[(audience, listing_id)], key=lambda ad: _id_key(ad.ad_id))
        shown = [ad.angle for ad in group]
        angles = list(available[listing_id])
        best = bandit.best_angle(audience, angles)
        own_best = next((ad for ad in group if ad.angle == best), None)
        reference = bandit.ad_posterior(audience, best, own_best.ad_id if own_best else None)
        for ad in group:
            judged = bandit.judged(audience, ad.angle) or ad.impressions >= learning.min_impressions
            if ad.angle == best or not judged:
                continue  # the best stays; an ad nobody has judged yet is left to the bandit
            worse = bandit.probability_worse(bandit.ad_posterior(audience, ad.angle, ad.ad_id), reference)
            if worse >= learning.retire_confidence:
                against = f"its ad {own_best.ad_id}" if own_best else "a new ad of it"
                retiring.append((ad, (
                    f"judged by clicks: P(worse than the {best} angle, {against}) = {worse:.3f} >= "
                    f"{learning.retire_confidence}; this ad {_figures(ad, learning)}; audience {audience!r}: "
                    f"{_pooled_figures(bandit, audience, ad.angle)} vs {_pooled_figures(bandit, audience, best)}"),
                    shown))
    leaving = frozenset(ad.ad_id for ad, _, _ in retiring)
    plan = []
    for ad, reason, shown in retiring:  # two replacements on one listing explore two angles
        replacement = next_angles(bandit, ad.audience, list(available[ad.listing_id]), shown, 1)
        shown.extend(replacement)
        examples, examples_reason = examples_for(ad.audience, stats, learning, leaving)
        reason += (f"; replaced by a {replacement[0]} ad" if replacement
                   else "; not replaced: every other angle is shown or judged worse")
        plan.append(Retirement(ad.ad_id, ad.listing_id, ad.audience, ad.angle, reason,
                               replacement[0] if replacement else None, examples, examples_reason))
    return plan
