"""What a search serves, one path for the page's API and for simulated people (`gfl simulate --users`).

The project's search finds the hits for the sentence (understood, filtered, ranked: search/retrieval.py),
the viewer's audience decides whose ads (ads/viewer.py), `ads_for_hits` picks each listing's ad by the
bandit with its propensity (`choose_ad`), and `served` gives each hit and ad its impression id, bound to
the session, the ad's propensity signed in (feedback/impressions.py). What comes back from that session
is then checked by `check_served` before `record_events` stores it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Optional

from gfl_dagster.ads.for_hits import ads_for_hits
from gfl_dagster.ads.viewer import ViewerAudience, viewer_audience
from gfl_dagster.feedback.impressions import Signer, served
from gfl_dagster.search.interpret import SearchContext
from gfl_dagster.search.query import SearchQuery
from gfl_dagster.search.retrieval import SearchResult, understood_search


@dataclass(frozen=True)
class SearchServer:
    """The project's resources a search is served from. `context`: the places and price bands the sentence
    is read against (a function: the page reloads them now and then)."""

    engine: Any
    embedder: Any
    store: Any  # an open vector store session
    context: Callable[[], SearchContext]
    model_client: Any
    signer: Signer

    def search(self, query: SearchQuery, session: str, *, literal: bool = False, declared: str = "",
               user_id: str = "", rng: Optional[random.Random] = None
               ) -> tuple[SearchResult, Optional[ViewerAudience]]:
        """The hits for `query`, each with `ad` (its viewer's, or None) and `impression_id`s for `session`,
        and the viewer's audience. `rng` draws the ads' choice (seeded by `gfl simulate --seed`)."""
        audience = viewer_audience(self.engine, declared, query.text, user_id)
        found = understood_search(query, self.embedder, self.store, self.context(), literal, self.model_client)
        shown = ads_for_hits(self.engine, found.hits, audience.slug if audience else None, rng)
        for hit in found.hits:
            hit["ad"] = shown[hit["id"]]
        served(self.signer, session, found.hits)
        return found, audience
