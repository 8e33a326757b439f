"""The bandit for whatever serves ads (the page's hits, `gfl simulate`): a snapshot of the evidence, re-read
at most every `max_age_s` seconds, so a page of hits costs no aggregate over feedback_events.

    bandit = current_bandit(engine)
    ad, propensity = bandit.choose(audience, candidates)  # candidates: a listing's active ads (id, angle)

The propensity is the probability the ad was shown with; recording it with the impression (in
feedback_events) is what lets the logs judge another policy off-line (`gfl bench loop`'s ope).
"""

from __future__ import annotations

import threading
import time
from typing import Optional

from sqlalchemy import Engine

from gfl_dagster.ads.audiences import load_audiences
from gfl_dagster.ads.bandit import Bandit
from gfl_dagster.ads.learning import AdStats
from gfl_dagster.db import queries

MAX_AGE_S = 30.0
_lock = threading.Lock()
_snapshots: dict[str, tuple[float, Bandit]] = {}


def read_bandit(engine: Engine) -> Bandit:
    """A fresh snapshot: every active ad's impressions and clicks, and the pooled evidence per audience and angle."""
    _, learning = load_audiences()
    with engine.connect() as connection:
        stats = [AdStats(r.ad_id, r.listing_id, r.audience, r.variant, r.impressions, r.clicks, r.text, r.angle)
                 for r in connection.execute(queries.AD_STATS)]
        pooled = {(r.audience, r.angle): (r.impressions, r.clicks) for r in connection.execute(queries.ANGLE_STATS)}
    return Bandit(stats, pooled, learning)


def current_bandit(engine: Engine, max_age_s: float = MAX_AGE_S, now: Optional[float] = None) -> Bandit:
    """The snapshot for this database, read again once it is older than `max_age_s`."""
    now = time.monotonic() if now is None else now
    key = str(engine.url)
    with _lock:
        read_at, bandit = _snapshots.get(key, (float("-inf"), None))
        if bandit is None or now - read_at > max_age_s:
            bandit = read_bandit(engine)
            _snapshots[key] = (now, bandit)
        return bandit
