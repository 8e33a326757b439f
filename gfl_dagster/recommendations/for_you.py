"""What "recommended for you" shows a user: their stored recommendation, or a cold start that says it is one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from gfl_dagster.ads.audiences import load_audiences
from gfl_dagster.ads.learning import AdStats, smoothed_ctr
from gfl_dagster.db import queries

COLD_START_PICKS = 5


def recommended_for(engine: Engine, user_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        stored = connection.execute(queries.RECOMMENDATION_FOR, {"user_id": user_id}).mappings().first()
        if stored is not None:
            return {**dict(stored), "cold_start": False}
        booked = [row.listing_id for row in connection.execute(queries.MOST_BOOKED, {"limit": COLD_START_PICKS})]
        popular = booked or [row.id for row in connection.execute(queries.MOST_REVIEWED, {"limit": COLD_START_PICKS})]
        stats = [AdStats(r.ad_id, r.listing_id, r.audience, r.variant, r.impressions, r.clicks, r.text)
                 for r in connection.execute(queries.AD_STATS)]
    _, learning = load_audiences()
    best: dict[str, AdStats] = {}
    for ad in stats:
        if ad.audience not in best or smoothed_ctr(ad.clicks, ad.impressions, learning) > smoothed_ctr(
                best[ad.audience].clicks, best[ad.audience].impressions, learning):
            best[ad.audience] = ad
    return {"user_id": user_id, "cold_start": True, "listing_ids": popular,
            "blurb": ("No activity from you yet, so these are the most booked listings"
                      if booked else "No activity from you yet, so these are the most reviewed listings")
            + " and each audience's best-performing ads.",
            "best_ads": [{"audience": a.audience, "ad_id": a.ad_id, "listing_id": a.listing_id, "text": a.text,
                          "smoothed_ctr": round(smoothed_ctr(a.clicks, a.impressions, learning), 4)}
                         for a in sorted(best.values(), key=lambda a: a.audience)]}
