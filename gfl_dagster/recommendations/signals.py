"""What a user's events say about their taste: a weight per listing (pure).

A booking says more than a save, a save more than a click, a click more than a view;
older events count less (a half-life of a week), so a user's recent interest leads.
"""

from __future__ import annotations

from typing import Iterable, Mapping

KIND_WEIGHTS = {"view": 1.0, "click": 2.0, "save": 3.0, "book": 5.0}
HALF_LIFE_S = 7 * 24 * 3600.0


def listing_weights(events: Iterable[Mapping]) -> dict[int, float]:
    """{listing id: weight} from events with `listing_id`, `kind` and `age_s` (seconds before the user's
    newest event: the weights are relative, and a guest's stays of years ago do not all round to nothing)."""
    weights: dict[int, float] = {}
    for event in events:
        decay = 0.5 ** (max(0.0, float(event["age_s"] or 0.0)) / HALF_LIFE_S)
        listing_id = int(event["listing_id"])
        weights[listing_id] = weights.get(listing_id, 0.0) + KIND_WEIGHTS.get(event["kind"], 0.0) * decay
    return weights
