"""What "recommended for you" shows a user: their stored recommendation, or a cold start that says it is one.

It comes from the user's history, not from the search on screen, and says so (`basis`): the page
shows it apart from the results, so a listing outside the search's constraints is never taken for
one of its results. No ads: an ad shown here would be an impression nobody records.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from gfl_dagster.db import queries

COLD_START_PICKS = 5
HISTORY_BASIS = "from your history (what you viewed, clicked, saved and booked), not from this search"


def recommended_for(engine: Engine, user_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        stored = connection.execute(queries.RECOMMENDATION_FOR, {"user_id": user_id}).mappings().first()
        if stored is not None:
            return {**dict(stored), "cold_start": False, "basis": HISTORY_BASIS}
        booked = [row.listing_id for row in connection.execute(queries.MOST_BOOKED, {"limit": COLD_START_PICKS})]
        popular = booked or [row.id for row in connection.execute(queries.MOST_REVIEWED, {"limit": COLD_START_PICKS})]
    most = "most booked" if booked else "most reviewed"
    return {"user_id": user_id, "cold_start": True, "listing_ids": popular,
            "blurb": f"No activity from you yet, so these are the {most} listings.",
            "basis": "not from this search"}  # the blurb says what they are
